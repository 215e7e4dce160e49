// remora-tls-load: the TLS client for tools/bench/tls.sh (built by the script with g++ and
// OpenSSL, not by CMake).
//   tls_load handshakes IP:PORT SECONDS THREADS CERT KEY [options]
//       THREADS blocking clients, each in a loop: connect, full handshake with the client
//       certificate (no session is ever offered, no ticket kept), close_notify, read until
//       the server's close_notify, close. A handshake counts once the server has closed
//       cleanly after reading the client's whole flight (so it verified the certificate and
//       CertificateVerify); an alert or a reset counts as a failure. The client does not
//       verify the server's certificate chain (the server's work is what is measured).
//       Prints: handshakes=N failures=N eof=N secs=S rate=R mean_us=M
//   tls_load idle IP:PORT N SECONDS CERT KEY [options]
//       Opens N connections and completes the handshake on each (or plain TCP with --plain),
//       prints "open=N failures=F" and holds them SECONDS (or until stdin closes), then
//       closes them.
//   tls_load crypto SECONDS [CERT]
//       Times, through EVP on this thread, what a server's full TLS 1.3 handshake computes:
//       X25519 and P-256 key generation and derivation, ECDSA P-256 sign and verify of a
//       SHA-256 digest, and parsing CERT (DER, public key included). Prints one line of
//       microseconds per operation.
// Options: --tls1.2 (default TLS 1.3 only), --groups LIST (default X25519:P-256, remora's),
//          --no-cert (present no client certificate), --plain (idle: TCP only).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tls_load: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::exit(1);
}

sockaddr_in parseAddress(const char* hostport) {
  std::string s(hostport);
  size_t colon = s.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, s.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    die("bad address (want IP:PORT)");
  }
  sa.sin_port = htons(static_cast<uint16_t>(std::atoi(s.c_str() + colon + 1)));
  return sa;
}

struct Options {
  bool tls12 = false;
  bool no_cert = false;
  bool plain = false;
  std::string groups = "X25519:P-256";
};

Options parseOptions(int argc, char** argv, int first) {
  Options o;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tls1.2") {
      o.tls12 = true;
    } else if (a == "--no-cert") {
      o.no_cert = true;
    } else if (a == "--plain") {
      o.plain = true;
    } else if (a == "--groups" && i + 1 < argc) {
      o.groups = argv[++i];
    } else {
      die("unknown option");
    }
  }
  return o;
}

SSL_CTX* clientContext(const char* cert, const char* key, const Options& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) die("SSL_CTX_new");
  int v = o.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  SSL_CTX_set_min_proto_version(ctx, v);
  SSL_CTX_set_max_proto_version(ctx, v);
  if (SSL_CTX_set1_groups_list(ctx, o.groups.c_str()) != 1) die("--groups");
  // No resumption: no ticket asked for or kept, no session cache.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  if (!o.no_cert) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) die("client certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) die("client key");
  }
  return ctx;
}

int dial(const sockaddr_in& sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void raiseFdLimit() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
}

// --- handshakes ---

enum class Outcome { kOk, kEof, kFailed };

// One full handshake and a clean close; kEof when the server closed without close_notify.
Outcome oneHandshake(SSL_CTX* ctx, const sockaddr_in& sa) {
  int fd = dial(sa);
  if (fd < 0) return Outcome::kFailed;
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  Outcome out = Outcome::kFailed;
  if (SSL_connect(ssl) == 1) {
    SSL_shutdown(ssl);  // our close_notify: the server answers with its own and closes
    char buf[256];
    for (;;) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n > 0) continue;
      int err = SSL_get_error(ssl, n);
      if (err == SSL_ERROR_ZERO_RETURN) {
        out = Outcome::kOk;
      } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        out = Outcome::kEof;
      }
      break;
    }
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
  return out;
}

int handshakes(int argc, char** argv) {
  if (argc < 7) die("usage: handshakes IP:PORT SECONDS THREADS CERT KEY [options]");
  sockaddr_in sa = parseAddress(argv[2]);
  double seconds = std::atof(argv[3]);
  int threads = std::atoi(argv[4]);
  Options o = parseOptions(argc, argv, 7);
  SSL_CTX* ctx = clientContext(argv[5], argv[6], o);
  std::atomic<uint64_t> ok{0}, eof{0}, failed{0}, busy_ns{0};
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      uint64_t n_ok = 0, n_eof = 0, n_failed = 0, ns = 0;
      while (Clock::now() < deadline) {
        auto t0 = Clock::now();
        Outcome r = oneHandshake(ctx, sa);
        ns += static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
        if (r == Outcome::kOk) {
          ++n_ok;
        } else if (r == Outcome::kEof) {
          ++n_eof;
        } else {
          ++n_failed;
          if (n_failed > 1000 && n_ok == 0) break;  // nothing works: stop early
        }
      }
      ok += n_ok;
      eof += n_eof;
      failed += n_failed;
      busy_ns += ns;
    });
  }
  for (auto& t : pool) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  uint64_t done = ok + eof;
  std::printf("handshakes=%llu failures=%llu eof=%llu secs=%.3f rate=%.1f mean_us=%.1f\n",
              static_cast<unsigned long long>(done), static_cast<unsigned long long>(failed.load()),
              static_cast<unsigned long long>(eof.load()), secs, done / secs,
              done + failed > 0 ? busy_ns / 1e3 / double(done + failed) : 0.0);
  SSL_CTX_free(ctx);
  return 0;
}

// --- idle ---

int idle(int argc, char** argv) {
  if (argc < 7) die("usage: idle IP:PORT N SECONDS CERT KEY [options]");
  raiseFdLimit();
  sockaddr_in sa = parseAddress(argv[2]);
  int n = std::atoi(argv[3]);
  double seconds = std::atof(argv[4]);
  Options o = parseOptions(argc, argv, 7);
  SSL_CTX* ctx = o.plain ? nullptr : clientContext(argv[5], argv[6], o);
  std::vector<std::pair<int, SSL*>> conns;
  int failures = 0;
  for (int i = 0; i < n; ++i) {
    int fd = dial(sa);
    if (fd < 0) {
      ++failures;
      continue;
    }
    SSL* ssl = nullptr;
    if (ctx != nullptr) {
      ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (SSL_connect(ssl) != 1) {
        ERR_clear_error();
        SSL_free(ssl);
        close(fd);
        ++failures;
        continue;
      }
    }
    conns.emplace_back(fd, ssl);
  }
  // TLS 1.3: the server's session tickets (and, for mTLS, its verdict on our certificate)
  // follow the handshake. Take what arrived, without blocking, and drop connections the server
  // refused or closed.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<std::pair<int, SSL*>> kept;
  for (auto& [fd, ssl] : conns) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    bool alive = true;
    char buf[256];
    if (ssl != nullptr) {
      for (;;) {
        int r = SSL_read(ssl, buf, sizeof(buf));
        if (r > 0) continue;
        alive = SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ;
        break;
      }
      ERR_clear_error();
    } else {
      alive = !(recv(fd, buf, sizeof(buf), MSG_PEEK) == 0);
    }
    if (alive) {
      kept.emplace_back(fd, ssl);
      continue;
    }
    if (ssl != nullptr) SSL_free(ssl);
    close(fd);
    ++failures;
  }
  conns.swap(kept);
  std::printf("open=%zu failures=%d\n", conns.size(), failures);
  std::fflush(stdout);
  // Hold until SECONDS pass or stdin closes.
  pollfd in{0, POLLIN, 0};
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (poll(&in, 1, std::max(left, 1)) == 1) {
      char c;
      if (read(0, &c, 1) <= 0) break;
    }
  }
  for (auto& [fd, ssl] : conns) {
    if (ssl != nullptr) SSL_free(ssl);
    close(fd);
  }
  if (ctx != nullptr) SSL_CTX_free(ctx);
  return 0;
}

// --- crypto ---

template <typename Fn>
double usPerOp(double seconds, Fn fn) {
  fn();  // warm up
  uint64_t n = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    for (int i = 0; i < 16; ++i) fn();
    n += 16;
  }
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / double(n);
}

EVP_PKEY* keygen(EVP_PKEY_CTX* kctx) {
  EVP_PKEY* k = nullptr;
  if (EVP_PKEY_keygen(kctx, &k) != 1) die("keygen");
  return k;
}

EVP_PKEY_CTX* keygenContext(const char* name) {
  EVP_PKEY_CTX* kctx = nullptr;
  if (std::strcmp(name, "X25519") == 0) {
    kctx = EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr);
    if (kctx == nullptr || EVP_PKEY_keygen_init(kctx) != 1) die("X25519 keygen init");
  } else {
    kctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    if (kctx == nullptr || EVP_PKEY_keygen_init(kctx) != 1 ||
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1) != 1) {
      die("P-256 keygen init");
    }
  }
  return kctx;
}

int crypto(int argc, char** argv) {
  double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  std::printf("openssl=\"%s\"", OpenSSL_version(OPENSSL_VERSION));
  for (const char* curve : {"X25519", "P-256"}) {
    EVP_PKEY_CTX* kctx = keygenContext(curve);
    double kg = usPerOp(seconds, [&] { EVP_PKEY_free(keygen(kctx)); });
    EVP_PKEY* mine = keygen(kctx);
    EVP_PKEY* peer = keygen(kctx);
    double dv = usPerOp(seconds, [&] {
      EVP_PKEY_CTX* d = EVP_PKEY_CTX_new(mine, nullptr);
      unsigned char secret[64];
      size_t len = sizeof(secret);
      if (EVP_PKEY_derive_init(d) != 1 || EVP_PKEY_derive_set_peer(d, peer) != 1 ||
          EVP_PKEY_derive(d, secret, &len) != 1) {
        die("derive");
      }
      EVP_PKEY_CTX_free(d);
    });
    std::string tag = std::strcmp(curve, "X25519") == 0 ? "x25519" : "p256";
    std::printf(" %s_keygen_us=%.2f %s_derive_us=%.2f", tag.c_str(), kg, tag.c_str(), dv);
    EVP_PKEY_free(mine);
    EVP_PKEY_free(peer);
    EVP_PKEY_CTX_free(kctx);
  }
  EVP_PKEY_CTX* kctx = keygenContext("P-256");
  EVP_PKEY* key = keygen(kctx);
  unsigned char digest[32];
  std::memset(digest, 7, sizeof(digest));
  unsigned char sig[128];
  size_t siglen = sizeof(sig);
  double sign = usPerOp(seconds, [&] {
    EVP_PKEY_CTX* s = EVP_PKEY_CTX_new(key, nullptr);
    siglen = sizeof(sig);
    if (EVP_PKEY_sign_init(s) != 1 || EVP_PKEY_sign(s, sig, &siglen, digest, 32) != 1) {
      die("sign");
    }
    EVP_PKEY_CTX_free(s);
  });
  double verify = usPerOp(seconds, [&] {
    EVP_PKEY_CTX* v = EVP_PKEY_CTX_new(key, nullptr);
    if (EVP_PKEY_verify_init(v) != 1 || EVP_PKEY_verify(v, sig, siglen, digest, 32) != 1) {
      die("verify");
    }
    EVP_PKEY_CTX_free(v);
  });
  std::printf(" ecdsa_p256_sign_us=%.2f ecdsa_p256_verify_us=%.2f", sign, verify);
  if (argc > 3) {
    // Parsing a certificate (what the server does with the client's, and again for each
    // session ticket that carries it): OpenSSL 3 decodes the public key through a decoder chain.
    FILE* f = std::fopen(argv[3], "r");
    if (f == nullptr) die("certificate file");
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (x == nullptr) die("certificate");
    unsigned char* der = nullptr;
    int len = i2d_X509(x, &der);
    X509_free(x);
    double parse = usPerOp(seconds, [&] {
      const unsigned char* p = der;
      X509* y = d2i_X509(nullptr, &p, len);
      if (y == nullptr || X509_get0_pubkey(y) == nullptr) die("d2i_X509");
      X509_free(y);
    });
    OPENSSL_free(der);
    std::printf(" x509_parse_us=%.2f", parse);
  }
  std::printf("\n");
  EVP_PKEY_free(key);
  EVP_PKEY_CTX_free(kctx);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "handshakes") return handshakes(argc, argv);
  if (mode == "idle") return idle(argc, argv);
  if (mode == "crypto") return crypto(argc, argv);
  std::fprintf(stderr, "usage: tls_load handshakes|idle|crypto ... (see the top of tls_load.cc)\n");
  return 2;
}
