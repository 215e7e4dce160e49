// Blocking socket helpers, hashing and waiting, shared by remora's tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace remora::testing {

// A listening TCP socket on ip:port (port 0 picks one).
int listenTcp(const std::string& ip, uint16_t port = 0, int backlog = 128);
uint16_t boundPort(int fd);
// Blocking connect; -1 on failure (errno kept).
int connectTcp(const std::string& ip, uint16_t port, int timeout_ms = 5000);
// accept() with a timeout; -1 on timeout.
int acceptTcp(int listen_fd, int timeout_ms = 5000);
bool sendAll(int fd, std::string_view data);

enum class ReadEnd { Eof, Reset, Timeout };
// Reads until EOF, reset or timeout (no byte for timeout_ms); appends to *out.
ReadEnd readToEnd(int fd, std::string* out, int timeout_ms = 10000);
// Reads exactly n bytes unless EOF/reset/timeout comes first.
std::string readExactly(int fd, size_t n, int timeout_ms = 10000);
// Closes with RST (SO_LINGER 0).
void resetClose(int fd);

std::string sha256Hex(std::string_view data);
std::string randomBytes(size_t n);

// Polls `cond` every 10 ms until it holds or timeout_ms passes.
bool waitFor(const std::function<bool()>& cond, int timeout_ms = 10000);

// Number of fds open in process `pid` (/proc/<pid>/fd).
int openFds(int pid);

// The build tree (binaries) and the source tree (test data, node_modules).
std::string buildDir();
std::string sourceDir();

}  // namespace remora::testing
