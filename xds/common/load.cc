// YAML -> JSON -> protobuf.
#include "xds/common/load.h"

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "proxy/common/strings.h"

namespace remora::xds {
namespace {

void jsonString(std::string* out, const std::string& s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// YAML 1.2 core schema for plain (unquoted) scalars.
bool isYamlNull(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}
bool isYamlBool(const std::string& s) {
  return s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE";
}
bool isYamlNumber(const std::string& s) {
  static const std::regex kNum(R"(^[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$)");
  return std::regex_match(s, kNum);
}

// YAML aliases can make a small document expand without bound ("billion laughs"): the JSON
// it turns into is capped.
constexpr size_t kMaxJsonBytes = 16 << 20;

absl::Status toJson(const YAML::Node& node, std::string* out, int depth) {
  if (depth > 100) return absl::InvalidArgumentError("YAML nested too deeply");
  if (out->size() > kMaxJsonBytes) {
    return absl::InvalidArgumentError(
        cat("YAML document expands past ", kMaxJsonBytes >> 20, " MiB (aliases?)"));
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      *out += "null";
      return absl::OkStatus();
    case YAML::NodeType::Scalar: {
      const std::string& v = node.Scalar();
      if (node.Tag() == "?") {  // plain scalar: typed by its text
        if (isYamlNull(v)) {
          *out += "null";
          return absl::OkStatus();
        }
        if (isYamlBool(v)) {
          *out += (v[0] == 't' || v[0] == 'T') ? "true" : "false";
          return absl::OkStatus();
        }
        if (isYamlNumber(v)) {
          *out += v[0] == '+' ? v.substr(1) : v;
          return absl::OkStatus();
        }
      }
      jsonString(out, v);
      return absl::OkStatus();
    }
    case YAML::NodeType::Sequence: {
      *out += "[";
      bool first = true;
      for (const auto& item : node) {
        if (!first) *out += ",";
        first = false;
        if (auto s = toJson(item, out, depth + 1); !s.ok()) return s;
      }
      *out += "]";
      return absl::OkStatus();
    }
    case YAML::NodeType::Map: {
      *out += "{";
      bool first = true;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar())
          return absl::InvalidArgumentError("YAML map keys must be scalars");
        if (!first) *out += ",";
        first = false;
        jsonString(out, kv.first.Scalar());
        *out += ":";
        if (auto s = toJson(kv.second, out, depth + 1); !s.ok()) return s;
      }
      *out += "}";
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("unknown YAML node");
}

bool looksLikeJson(std::string_view text) {
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{' || c == '[';
  }
  return false;
}

// yaml-cpp 0.7 (Debian 12) loops forever, allocating, on a ',' that starts a token outside
// any flow collection (",", "[a],", "\"a\","): found by fuzzing. Such input is not valid
// YAML (a plain scalar cannot start with ','), so it is refused before yaml-cpp sees it.
absl::Status checkStrayFlowEntries(std::string_view text) {
  // YAML allows only printable characters (tab, LF and CR among the C0 controls); yaml-cpp
  // also misreads a NUL as the end of a token (another loop found by fuzzing).
  for (size_t k = 0; k < text.size(); ++k) {
    auto b = static_cast<unsigned char>(text[k]);
    if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f) {
      return absl::InvalidArgumentError(cat("YAML: control character 0x", b < 16 ? "0" : "",
                                            absl::StrFormat("%x", b), " at byte ", k));
    }
  }
  int depth = 0;            // [ and { nesting
  bool token_start = true;  // the next non-space character starts a token
  size_t line = 1;
  size_t block_indent = std::string::npos;  // inside a | or > block scalar: its parent's indent
  size_t i = 0;
  while (i < text.size()) {
    // Line start: measure indentation; skip block scalar content and comments.
    size_t indent = 0;
    while (i + indent < text.size() && text[i + indent] == ' ') ++indent;
    size_t eol = text.find('\n', i);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view l = text.substr(i + indent, eol - i - indent);
    if (block_indent != std::string::npos) {
      if (l.empty() || indent > block_indent) {
        i = eol + 1;
        ++line;
        continue;
      }
      block_indent = std::string::npos;
    }
    if (depth == 0) token_start = true;
    for (size_t j = 0; j < l.size(); ++j) {
      char c = l[j];
      if (c == '#' && (j == 0 || l[j - 1] == ' ' || l[j - 1] == '\t')) break;  // comment
      if (c == '"' || c == '\'') {
        // A quoted scalar (on one line: multi-line quotes are rare in xDS files).
        size_t k = j + 1;
        while (k < l.size() && l[k] != c) k += (c == '"' && l[k] == '\\') ? 2 : 1;
        j = k;
        if (depth == 0) token_start = false;
        continue;
      }
      if (depth > 0) {
        // Inside [ ] or { }: commas separate entries; only the nesting matters here.
        if (c == '[' || c == '{') ++depth;
        if (c == ']' || c == '}') {
          if (--depth == 0) token_start = false;
        }
        continue;
      }
      if (c == ' ' || c == '\t') continue;
      if (c == '[' || c == '{') {
        ++depth;
        continue;
      }
      if (c == ',') {
        return absl::InvalidArgumentError(
            cat("YAML line ", line, ": ',' outside [ ] or { } ",
                token_start ? "cannot start a value" : "after a complete value"));
      }
      if ((c == '-' || c == '?' || c == ':') && (j + 1 == l.size() || l[j + 1] == ' ')) {
        token_start = true;
        continue;
      }
      if ((c == '|' || c == '>') && token_start) {
        block_indent = indent;  // the lines that follow, more indented, are its content
        break;
      }
      // A plain scalar: in block context it runs to ": ", " #" or the end of the line, and
      // may contain ',' freely.
      token_start = false;
      while (j + 1 < l.size() && !(l[j + 1] == ':' && (j + 2 == l.size() || l[j + 2] == ' ')) &&
             !(l[j + 1] == '#' && l[j] == ' ')) {
        ++j;
      }
    }
    i = eol + 1;
    ++line;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> yamlDocumentsInProcess(std::string_view text) {
  std::vector<std::string> out;
  if (auto s = checkStrayFlowEntries(text); !s.ok()) return s;
  try {
    for (const YAML::Node& doc : YAML::LoadAll(std::string(text))) {
      if (doc.IsNull()) continue;
      std::string json;
      if (auto s = toJson(doc, &json, 0); !s.ok()) return s;
      out.push_back(std::move(json));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(cat("YAML: ", e.what()));
  }
  return out;
}

namespace {

// Documents separated by "---" lines that are each JSON: protobuf's own JSON parser reads
// them, no YAML library involved. nullopt when any document is not JSON.
std::optional<std::vector<std::string>> jsonDocuments(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t sep = text.find("\n---", start);
    std::string_view doc =
        text.substr(start, sep == std::string_view::npos ? text.npos : sep - start);
    bool blank = doc.find_first_not_of(" \t\r\n") == std::string_view::npos;
    if (!blank) {
      if (!looksLikeJson(doc)) return std::nullopt;
      out.emplace_back(doc);
    }
    if (sep == std::string_view::npos) break;
    size_t eol = text.find('\n', sep + 4);
    if (eol == std::string_view::npos) break;
    std::string_view rest = text.substr(sep + 4, eol - sep - 4);
    if (rest.find_first_not_of(" \t\r") != std::string_view::npos) return std::nullopt;  // "---x"
    start = eol + 1;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

constexpr rlim_t kYamlChildMemory = rlim_t{2} << 30;

void writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

namespace {

// The conversion's answer as bytes: "E<message>" or "O" then "<length>:<json>" per document.
std::string encodeReply(const absl::StatusOr<std::vector<std::string>>& docs) {
  if (!docs.ok()) return cat("E", docs.status().message());
  std::string reply = "O";
  for (const auto& d : *docs) append(&reply, d.size(), ":", d);
  return reply;
}

absl::StatusOr<std::vector<std::string>> decodeReply(const std::string& reply) {
  if (reply[0] == 'E') return absl::InvalidArgumentError(reply.substr(1));
  std::vector<std::string> out;
  size_t pos = 1;
  while (pos < reply.size()) {
    size_t colon = reply.find(':', pos);
    size_t len = 0;
    if (colon == std::string::npos ||
        !parseInt(std::string_view(reply).substr(pos, colon - pos), &len) ||
        colon + 1 + len > reply.size()) {
      return absl::InternalError("YAML: malformed reply from the parser");
    }
    out.push_back(reply.substr(colon + 1, len));
    pos = colon + 1 + len;
  }
  return out;
}

absl::Status gaveUp(const std::string& why, unsigned seconds) {
  return absl::InvalidArgumentError(cat("YAML: the parser gave up on this input (", why,
                                        "; limits: ", seconds, " s, ", kYamlChildMemory >> 30,
                                        " GiB)"));
}

// --- The long-lived helper (see useYamlHelper) ---

struct YamlHelper {
  std::mutex mu;
  bool enabled = false;
  pid_t pid = -1;
  int fd = -1;
};
YamlHelper& helper() {
  static YamlHelper* h = new YamlHelper;  // never destroyed: the child goes when we do
  return *h;
}

bool readFull(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// The helper's loop: a length-prefixed request in, a length-prefixed reply out, until EOF.
[[noreturn]] void helperMain(int fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  rlimit mem{kYamlChildMemory, kYamlChildMemory};
  setrlimit(RLIMIT_AS, &mem);
  for (;;) {
    uint64_t len = 0;
    if (!readFull(fd, reinterpret_cast<char*>(&len), sizeof(len)) || len > (1u << 30)) _exit(0);
    std::string text(len, '\0');
    if (!readFull(fd, text.data(), len)) _exit(0);
    std::string reply = encodeReply(yamlDocumentsInProcess(text));
    uint64_t out = reply.size();
    writeAll(fd, std::string_view(reinterpret_cast<const char*>(&out), sizeof(out)));
    writeAll(fd, reply);
  }
}

bool spawnHelper(YamlHelper& h) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]);
    close(sv[1]);
    return false;
  }
  if (pid == 0) {
    close(sv[0]);
    helperMain(sv[1]);
  }
  close(sv[1]);
  h.pid = pid;
  h.fd = sv[0];
  return true;
}

void killHelper(YamlHelper& h) {
  if (h.pid > 0) {
    kill(h.pid, SIGKILL);
    while (waitpid(h.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (h.fd >= 0) close(h.fd);
  h.pid = -1;
  h.fd = -1;
}

// Moves all of `data` through the nonblocking socket before `deadline`, in the direction given.
bool transfer(int fd, char* data, size_t n, bool writing,
              std::chrono::steady_clock::time_point deadline) {
  while (n > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{fd, static_cast<short>(writing ? POLLOUT : POLLIN), 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t k = writing ? ::send(fd, data, n, MSG_NOSIGNAL) : ::recv(fd, data, n, 0);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (k <= 0) return false;
    data += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> viaHelper(YamlHelper& h, std::string_view text,
                                                   unsigned seconds) {
  if (h.pid < 0 && !spawnHelper(h)) return absl::InternalError("YAML: cannot start the parser");
  fcntl(h.fd, F_SETFL, fcntl(h.fd, F_GETFL) | O_NONBLOCK);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::string request(sizeof(uint64_t), '\0');
  uint64_t len = text.size();
  memcpy(request.data(), &len, sizeof(len));
  request.append(text);
  uint64_t reply_len = 0;
  std::string reply;
  bool ok =
      transfer(h.fd, request.data(), request.size(), true, deadline) &&
      transfer(h.fd, reinterpret_cast<char*>(&reply_len), sizeof(reply_len), false, deadline) &&
      reply_len > 0 && reply_len <= (uint64_t{1} << 31);
  if (ok) {
    reply.resize(reply_len);
    ok = transfer(h.fd, reply.data(), reply.size(), false, deadline);
  }
  if (!ok) {
    // Stuck, out of memory or crashed: it is replaced on the next call.
    int status = 0;
    bool exited = waitpid(h.pid, &status, WNOHANG) == h.pid;
    std::string why = exited && WIFSIGNALED(status) ? strsignal(WTERMSIG(status))
                      : exited                      ? "exited"
                                                    : "no answer in time";
    if (exited) h.pid = -1;
    killHelper(h);
    return gaveUp(why, seconds);
  }
  return decodeReply(reply);
}

}  // namespace

void useYamlHelper() {
  YamlHelper& h = helper();
  std::lock_guard<std::mutex> lock(h.mu);
  h.enabled = true;
  if (h.pid < 0) spawnHelper(h);
}

absl::StatusOr<std::vector<std::string>> yamlDocumentsIsolated(std::string_view text,
                                                               unsigned seconds) {
  {
    YamlHelper& h = helper();
    std::lock_guard<std::mutex> lock(h.mu);
    if (h.enabled) return viaHelper(h, text, seconds);
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    // The child: bounded time and memory, then one reply on the pipe.
    close(fds[0]);
    alarm(seconds);
    rlimit mem{kYamlChildMemory, kYamlChildMemory};
    setrlimit(RLIMIT_AS, &mem);
    writeAll(fds[1], encodeReply(yamlDocumentsInProcess(text)));
    _exit(0);
  }
  close(fds[1]);
  std::string reply;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) reply.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || reply.empty()) {
    return gaveUp(WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no answer", seconds);
  }
  return decodeReply(reply);
}

absl::StatusOr<std::vector<std::string>> documentsAsJson(std::string_view text) {
  if (auto json = jsonDocuments(text)) return *json;
  // yaml-cpp can loop or crash on hostile input (fuzzing found several such inputs): it runs
  // in a child process with a time and memory limit, so a bad file costs an error, not the
  // control plane or the proxy.
  return yamlDocumentsIsolated(text);
}

absl::StatusOr<std::string> yamlToJson(std::string_view yaml) {
  auto docs = documentsAsJson(yaml);
  if (!docs.ok()) return docs.status();
  if (docs->size() != 1)
    return absl::InvalidArgumentError(cat("expected one YAML document, found ", docs->size()));
  return std::move((*docs)[0]);
}

absl::Status parseJson(std::string_view json, google::protobuf::Message* msg) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), msg, opts);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        cat(msg->GetDescriptor()->full_name(), ": ", std::string(st.message())));
  }
  return absl::OkStatus();
}

absl::Status parseMessage(std::string_view text, google::protobuf::Message* msg) {
  if (looksLikeJson(text)) return parseJson(text, msg);
  auto json = yamlToJson(text);
  if (!json.ok()) return json.status();
  return parseJson(*json, msg);
}

absl::StatusOr<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(cat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace remora::xds
