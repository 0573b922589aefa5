#ifndef CLOISTER_CCBOR_SHIM_H
#define CLOISTER_CCBOR_SHIM_H
// Only the streaming decoder is used: cbor_load allocates whatever the input declares.
#include <cbor/callbacks.h>
#include <cbor/streaming.h>
#endif
