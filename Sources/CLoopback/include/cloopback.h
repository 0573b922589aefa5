#ifndef CLOISTER_CLOOPBACK_H
#define CLOISTER_CLOOPBACK_H

/// Whether the loopback interface is up: 1 up, 0 down, -1 with errno set when it cannot be asked.
int cloister_loopback_is_up(void);

/// Gives `lo` the address 127.0.0.1/8 and brings it up, as a Nitro Enclave's init does not. Setting the address
/// (not only the flag) is what adds the local route on older enclave kernels. Returns 0, or -1 with errno set.
int cloister_loopback_up(void);
#endif
