#include "cnsm.h"
#include <sys/ioctl.h>

// ioctl(2) is variadic, which Swift cannot call; this is the one call the NSM needs.
unsigned long cloister_nsm_ioctl_number(void) { return _IOWR(0x0A, 0, struct cloister_nsm_raw); }

int cloister_nsm_ioctl(int fd, struct cloister_nsm_raw *raw) { return ioctl(fd, cloister_nsm_ioctl_number(), raw); }
