// Three tiers of error (see STYLE.md): input is handled with absl::Status, "cannot happen" is
// RELEASE_ASSERT (always on, aborts with a message), invariants are ASSERT (debug builds only).
#pragma once

#include <cstdio>
#include <cstdlib>

#define RELEASE_ASSERT(cond, msg)                                                                \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "assert failure: %s at %s:%d: %s\n", #cond, __FILE__, __LINE__, msg); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

#ifdef NDEBUG
#define ASSERT(cond) \
  do {               \
  } while (false && (cond))
#else
#define ASSERT(cond) RELEASE_ASSERT(cond, "")
#endif
