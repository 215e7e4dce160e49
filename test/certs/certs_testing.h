// Helpers for the certificate tests: temporary directories, the openssl CLI, a real
// remora-control with a CA, and JWTs signed any way a test needs (including wrongly).
#pragma once

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "certs/jwt.h"
#include "certs/x509.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"

namespace remora::certs::testing {

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/remora-certs-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(file(name)) << content;
    return file(name);
  }

 private:
  std::string path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a command; returns its exit code, output in *out.
inline int run(const std::vector<std::string>& argv, std::string* out = nullptr) {
  return integration::runCommand(argv, out);
}

// A JWS over arbitrary header and claims JSON, signed with `key` by `alg` ("ES256" raw r||s,
// or "RS256"); with key == nullptr the signature is `fake_sig`.
inline std::string makeJwt(const std::string& header_json, const std::string& claims_json,
                           EVP_PKEY* key, const std::string& alg,
                           const std::string& fake_sig = "sig") {
  std::string input = base64UrlEncode(header_json) + "." + base64UrlEncode(claims_json);
  if (key == nullptr) return input + "." + base64UrlEncode(fake_sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  if (alg == "ES256") sig = *ecdsaDerToRaw(sig, 32);
  return input + "." + base64UrlEncode(sig);
}

inline int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// remora-control with a CA, on 127.0.0.1 port 0, with an empty resource directory.
class ControlPlane {
 public:
  ControlPlane(const TempDir& tmp, std::vector<std::string> ca_args) : tmp_(tmp) {
    std::filesystem::create_directories(tmp.file("resources"));
    std::vector<std::string> argv = {
        binary(),      "--config-dir",      tmp.file("resources"), "--listen",
        "127.0.0.1:0", "--port-file",       tmp.file("grpc.port"), "--admin-address",
        "127.0.0.1:0", "--admin-port-file", tmp.file("admin.port")};
    argv.insert(argv.end(), ca_args.begin(), ca_args.end());
    process_ = std::make_unique<integration::Process>(argv, tmp.file("control.log"));
    bool up = remora::testing::waitFor([&] {
      std::ifstream g(tmp.file("grpc.port")), a(tmp.file("admin.port"));
      return static_cast<bool>(g >> port_) && static_cast<bool>(a >> admin_port_);
    });
    INFO(process_->log());
    REQUIRE(up);
  }
  ~ControlPlane() {
    process_->signal(SIGTERM);
    process_->wait(5000);
  }

  static std::string binary() { return remora::testing::buildDir() + "/xds/remora-control"; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return process_->log(); }
  integration::Process& process() { return *process_; }

  // control_plane.ca.* and other counters from the admin /stats.
  std::map<std::string, int64_t> stats() const {
    std::map<std::string, int64_t> out;
    int fd = remora::testing::connectTcp("127.0.0.1", static_cast<uint16_t>(admin_port_));
    if (fd < 0) return out;
    remora::testing::sendAll(fd, "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::string resp;
    remora::testing::readToEnd(fd, &resp);
    close(fd);
    std::istringstream lines(resp.substr(resp.find("\r\n\r\n") + 4));
    std::string line;
    while (std::getline(lines, line)) {
      size_t colon = line.find(": ");
      if (colon != std::string::npos)
        out[line.substr(0, colon)] = std::stoll(line.substr(colon + 2));
    }
    return out;
  }

 private:
  const TempDir& tmp_;
  std::unique_ptr<integration::Process> process_;
  int port_ = 0;
  int admin_port_ = 0;
};

// `remora-control issue-token` for ns/sa from the CA directory.
inline std::string issueToken(const std::string& ca_dir, const std::string& ns,
                              const std::string& sa, const std::string& ttl = "1h") {
  std::string out;
  int rc = run({ControlPlane::binary(), "issue-token", "--ca-dir", ca_dir, "--namespace", ns,
                "--service-account", sa, "--ttl", ttl},
               &out);
  INFO(out);
  REQUIRE(rc == 0);
  // stdout is the token; log lines (stderr, merged here) come before it.
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.substr(out.rfind('\n') + 1);
}

// An operator's CA made with the openssl CLI: an EC P-256 root and an RSA intermediate that
// remora signs with.
struct OperatorCa {
  explicit OperatorCa(const TempDir& tmp, int intermediate_days = 2) {
    tmp.write("ca.cnf",
              "[req]\ndistinguished_name = dn\n[dn]\n"
              "[v3_root]\nbasicConstraints = critical,CA:TRUE\n"
              "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
              "authorityKeyIdentifier = keyid:always\n"
              "[v3_inter]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n"
              "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
              "authorityKeyIdentifier = keyid:always\n");
    std::string cnf = tmp.file("ca.cnf");
    std::string out;
    int rc = run({"openssl",
                  "req",
                  "-x509",
                  "-config",
                  cnf,
                  "-extensions",
                  "v3_root",
                  "-newkey",
                  "ec",
                  "-pkeyopt",
                  "ec_paramgen_curve:P-256",
                  "-nodes",
                  "-keyout",
                  tmp.file("root.key"),
                  "-out",
                  tmp.file("root.pem"),
                  "-days",
                  "30",
                  "-subj",
                  "/O=Example Corp/CN=Example Root"},
                 &out);
    INFO(out);
    REQUIRE(rc == 0);
    rc = run({"openssl", "req", "-new", "-config", cnf, "-newkey", "rsa:2048", "-nodes", "-keyout",
              tmp.file("inter.key"), "-out", tmp.file("inter.csr"), "-subj",
              "/O=Example Corp/CN=Example Mesh Intermediate"},
             &out);
    REQUIRE(rc == 0);
    rc = run({"openssl", "x509", "-req", "-in", tmp.file("inter.csr"), "-CA", tmp.file("root.pem"),
              "-CAkey", tmp.file("root.key"), "-set_serial", "4242", "-days",
              std::to_string(intermediate_days), "-extfile", cnf, "-extensions", "v3_inter", "-out",
              tmp.file("inter.pem")},
             &out);
    REQUIRE(rc == 0);
  }
};

}  // namespace remora::certs::testing
