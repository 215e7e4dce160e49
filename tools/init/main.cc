// remora-init: installs (or with --cleanup removes) the pod's capture rules, atomically, with
// one iptables-restore --noflush run.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/common/strings.h"
#include "tools/init/rules.h"

namespace {

// Runs argv with `input` on stdin; returns stdout. Fails on a non-zero exit, with stderr.
absl::StatusOr<std::string> run(const std::vector<std::string>& argv, const std::string& input) {
  int in[2], out[2], err[2];
  if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) return absl::InternalError("pipe failed");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %m\n", args[0]);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Inputs are a few KiB, far below the pipe buffer: write all, then read.
  size_t off = 0;
  while (off < input.size()) {
    ssize_t n = write(in[1], input.data() + off, input.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  close(in[1]);
  auto slurp = [](int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
    close(fd);
    return s;
  };
  std::string stdout_text = slurp(out[0]);
  std::string stderr_text = slurp(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::UnavailableError(remora::cat(argv[0], " failed: ", stderr_text));
  }
  return stdout_text;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace remora;
  auto opts = init::parseInitOptions(argc, argv);
  if (!opts.ok()) {
    std::fprintf(stderr, "remora-init: %s\n\n%s", std::string(opts.status().message()).c_str(),
                 init::initUsage().c_str());
    return 2;
  }
  if (opts->help) {
    std::fputs(init::initUsage().c_str(), stdout);
    return 0;
  }
  if (opts->dry_run) {
    // As for a pod whose nat table has none of our rules yet.
    std::string text =
        opts->cleanup ? init::generateCleanup("") : init::generateRules(opts->config, "");
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  auto current = run({opts->iptables_save, "-t", "nat"}, "");
  if (!current.ok()) {
    std::fprintf(stderr, "remora-init: %s\n", std::string(current.status().message()).c_str());
    return 1;
  }
  std::string text =
      opts->cleanup ? init::generateCleanup(*current) : init::generateRules(opts->config, *current);
  if (text.empty()) {
    std::puts("remora-init: nothing to remove");
    return 0;
  }
  auto applied = run({opts->iptables_restore, "--noflush", "--wait"}, text);
  if (!applied.ok()) {
    std::fprintf(stderr, "remora-init: %s\nrules were:\n%s",
                 std::string(applied.status().message()).c_str(), text.c_str());
    return 1;
  }
  std::printf("remora-init: %s\n", opts->cleanup ? "rules removed" : "rules applied");
  return 0;
}
