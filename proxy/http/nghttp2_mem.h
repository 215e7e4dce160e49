// nghttp2's own allocations (its stream records, frame queue items, header buffers: four per
// proxied HTTP/2 request) from per-thread free lists instead of malloc, through the
// nghttp2_mem hook every session is created with.
//
// Blocks of up to 1 KiB come in six size classes; a freed block goes back to the list of the
// thread that frees it, up to 1 MiB per thread, and the rest to the allocator. Larger blocks
// go straight to malloc. Each block carries a 16-byte header (its class and size), so free and
// realloc need nothing else and malloc's 16-byte alignment is kept.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>

namespace remora::http {

// The allocator to create nghttp2 sessions with; null in sanitizer builds (nghttp2's default,
// malloc, so that AddressSanitizer sees every use after free).
nghttp2_mem* nghttp2Allocator();

// The hooks themselves (tests).
void* nghttp2Malloc(size_t size, void* user);
void nghttp2Free(void* ptr, void* user);
void* nghttp2Calloc(size_t n, size_t size, void* user);
void* nghttp2Realloc(void* ptr, size_t size, void* user);

}  // namespace remora::http
