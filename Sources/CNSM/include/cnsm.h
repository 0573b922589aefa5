#ifndef CLOISTER_CNSM_H
#define CLOISTER_CNSM_H
#include <stdint.h>

/// The NSM driver's message: a request buffer and a response buffer (struct nsm_raw in linux/nsm.h).
struct cloister_nsm_iovec {
    uint64_t addr;
    uint64_t len;
};
struct cloister_nsm_raw {
    struct cloister_nsm_iovec request;
    struct cloister_nsm_iovec response;
};

/// _IOWR(0x0A, 0, struct nsm_raw): 0xC0200A00 on x86_64 and aarch64.
unsigned long cloister_nsm_ioctl_number(void);

/// Issues the NSM ioctl on fd. Returns 0, or -1 with errno set. On success response.len is the length written.
int cloister_nsm_ioctl(int fd, struct cloister_nsm_raw *raw);
#endif
