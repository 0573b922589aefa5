#include "cloopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void lo_request(struct ifreq *ifr) {
    memset(ifr, 0, sizeof(*ifr));
    strncpy(ifr->ifr_name, "lo", IFNAMSIZ - 1);
}

int cloister_loopback_is_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq ifr;
    lo_request(&ifr);
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    int saved = errno;
    close(fd);
    if (rc < 0) {
        errno = saved;
        return -1;
    }
    return (ifr.ifr_flags & IFF_UP) ? 1 : 0;
}

int cloister_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq ifr;
    int rc = 0;

    lo_request(&ifr);
    struct sockaddr_in *addr = (struct sockaddr_in *)&ifr.ifr_addr;
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ioctl(fd, SIOCSIFADDR, &ifr) < 0 && errno != EEXIST) rc = -1;

    if (rc == 0) {
        lo_request(&ifr);
        addr->sin_family = AF_INET;
        addr->sin_addr.s_addr = htonl(0xFF000000u);
        if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0) rc = -1;
    }
    if (rc == 0) {
        lo_request(&ifr);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
            rc = -1;
        } else {
            ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
            if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) rc = -1;
        }
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}
