// The CA: what a workload certificate contains, how long it lives, what is refused, RSA and
// operator-provided signers (checked with the openssl CLI too), and root rotation.
#include "certs/ca.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "absl/strings/str_format.h"

#include "test/certs/certs_testing.h"

namespace remora::certs {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using testing::OperatorCa;
using testing::run;
using testing::TempDir;

const SpiffeId kId{"cluster.local", "default", "reviews"};

struct TestCa {
  PkeyPtr key;
  std::unique_ptr<CertificateAuthority> ca;
};

TestCa makeCa(KeyType type = KeyType::EcdsaP256, seconds root_ttl = kRootTtl,
              CaOptions options = {}) {
  auto now = std::chrono::system_clock::now();
  auto key = generateKey(type);
  REQUIRE(key.ok());
  auto root = makeRootCertificate(key->get(), "cluster.local", root_ttl, now);
  REQUIRE(root.ok());
  auto copy = parsePrivateKeyPem(privateKeyPem(key->get()));
  auto ca = CertificateAuthority::create(std::move(*root), std::move(*copy), {}, options, now);
  REQUIRE(ca.ok());
  return {std::move(*key), std::move(*ca)};
}

std::string csrFor(const std::string& uri, KeyType type = KeyType::EcdsaP256) {
  auto key = generateKey(type);
  REQUIRE(key.ok());
  auto csr = makeCsrPem(key->get(), uri);
  REQUIRE(csr.ok());
  return *csr;
}

X509Ptr leafOf(const IssuedCertificate& issued) {
  auto certs = parseCertsPem(issued.cert_chain.front());
  REQUIRE(certs.ok());
  return std::move(certs->front());
}

bool critical(const X509* cert, int nid) {
  int idx = X509_get_ext_by_NID(cert, nid, -1);
  return idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) == 1;
}

std::string hex(const ASN1_OCTET_STRING* s) {
  if (s == nullptr) return "";
  std::string out;
  for (int i = 0; i < ASN1_STRING_length(s); ++i) {
    out += absl::StrFormat("%02x", ASN1_STRING_get0_data(s)[i]);
  }
  return out;
}

double secondsBetween(SystemTime a, SystemTime b) {
  return std::chrono::duration<double>(b - a).count();
}

TEST_CASE("a workload certificate carries the proven SPIFFE ID and nothing else", "[ca]") {
  TestCa t = makeCa();
  auto now = std::chrono::system_clock::now();
  auto issued = t.ca->sign(csrFor(kId.uri()), kId, seconds(0), now);
  REQUIRE(issued.ok());
  X509Ptr leaf = leafOf(*issued);

  CHECK(uriSans(leaf.get()) == std::vector<std::string>{kId.uri()});
  CHECK(X509_NAME_entry_count(X509_get_subject_name(leaf.get())) == 0);
  CHECK(critical(leaf.get(), NID_subject_alt_name));  // the only name: critical (RFC 5280)
  CHECK(X509_get_version(leaf.get()) == X509_VERSION_3);
  // basicConstraints CA:FALSE, critical.
  CHECK(X509_check_ca(leaf.get()) == 0);
  CHECK(critical(leaf.get(), NID_basic_constraints));
  // keyUsage digitalSignature only (an EC key: no keyEncipherment), critical.
  CHECK((X509_get_extension_flags(leaf.get()) & EXFLAG_KUSAGE) != 0);
  CHECK(X509_get_key_usage(leaf.get()) == KU_DIGITAL_SIGNATURE);
  CHECK(critical(leaf.get(), NID_key_usage));
  // extendedKeyUsage serverAuth + clientAuth.
  CHECK(X509_get_extended_key_usage(leaf.get()) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
  // Key identifiers: the leaf's own, and the root's as the authority's.
  CHECK(hex(X509_get0_subject_key_id(leaf.get())).size() == 40);
  CHECK(hex(X509_get0_authority_key_id(leaf.get())) ==
        hex(X509_get0_subject_key_id(const_cast<X509*>(t.ca->signer()))));
  // Chain: leaf, then the root (last).
  REQUIRE(issued->cert_chain.size() == 2);
  CHECK(issued->cert_chain[1] == certPem(t.ca->signer()));
  CHECK(verifyChain(leaf.get(), {}, t.ca->roots(), now).ok());
  CHECK(issued->serial_hex == serialHex(leaf.get()));
}

TEST_CASE(
    "a server certificate (remora-control's own) carries its SPIFFE ID, DNS names and IP "
    "addresses, which X509_check_host/_ip accept - malformed names are InvalidArgument",
    "[ca]") {
  TestCa t = makeCa();
  auto now = std::chrono::system_clock::now();
  auto key = generateKey(KeyType::EcdsaP256);
  REQUIRE(key.ok());
  ServerNames names{{"remora-control", "remora-control.mesh.svc", "*.example.com"},
                    {"127.0.0.1", "::1"}};
  auto issued = t.ca->issue(key->get(), kId, names, seconds(0), now);
  REQUIRE(issued.ok());
  X509Ptr leaf = leafOf(*issued);
  CHECK(uriSans(leaf.get()) == std::vector<std::string>{kId.uri()});
  CHECK(X509_check_private_key(leaf.get(), key->get()) == 1);
  CHECK(X509_check_host(leaf.get(), "remora-control", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf.get(), "remora-control.mesh.svc", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf.get(), "a.example.com", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf.get(), "other", 0, 0, nullptr) == 0);
  CHECK(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(leaf.get(), "::1", 0) == 1);
  CHECK(X509_check_ip_asc(leaf.get(), "127.0.0.2", 0) == 0);
  CHECK(critical(leaf.get(), NID_subject_alt_name));
  CHECK(X509_get_extended_key_usage(leaf.get()) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
  CHECK(verifyChain(leaf.get(), {}, t.ca->roots(), now).ok());
  CHECK(secondsBetween(now, issued->not_after) == Approx(24 * 3600).margin(5));

  for (const char* bad : {"", "-x", "a..b", "a b", "x\nEvil", "a.-b", "*"}) {
    INFO(bad);
    auto r = t.ca->issue(key->get(), kId, ServerNames{{bad}, {}}, seconds(0), now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(r.status().message()).find("is not a DNS name") != std::string::npos);
  }
  auto r = t.ca->issue(key->get(), kId, ServerNames{{}, {"300.1.1.1"}}, seconds(0), now);
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()) == "'300.1.1.1' is not an IP address");
}

TEST_CASE("the CSR's other names and subject are ignored, and a CSR without SANs is fine", "[ca]") {
  TempDir tmp;
  TestCa t = makeCa();
  std::string out;
  int rc = run(
      {"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", tmp.file("k.pem"), "-out", tmp.file("csr.pem"), "-subj", "/O=evil/CN=admin",
       "-addext", "subjectAltName=URI:" + kId.uri() + ",DNS:evil.example.com,IP:10.0.0.1"},
      &out);
  INFO(out);
  REQUIRE(rc == 0);
  auto now = std::chrono::system_clock::now();
  auto issued = t.ca->sign(testing::slurp(tmp.file("csr.pem")), kId, seconds(0), now);
  REQUIRE(issued.ok());
  X509Ptr leaf = leafOf(*issued);
  CHECK(X509_NAME_entry_count(X509_get_subject_name(leaf.get())) == 0);
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr));
  REQUIRE(names != nullptr);
  CHECK(sk_GENERAL_NAME_num(names) == 1);  // no DNS, no IP
  GENERAL_NAMES_free(names);
  CHECK(uriSans(leaf.get()) == std::vector<std::string>{kId.uri()});

  // No SAN at all: the credential alone decides.
  rc = run({"openssl", "req", "-new", "-key", tmp.file("k.pem"), "-out", tmp.file("plain.pem"),
            "-subj", "/CN=whatever"},
           &out);
  REQUIRE(rc == 0);
  auto plain = t.ca->sign(testing::slurp(tmp.file("plain.pem")), kId, seconds(0), now);
  REQUIRE(plain.ok());
  CHECK(uriSans(leafOf(*plain).get()) == std::vector<std::string>{kId.uri()});
}

TEST_CASE("a CSR asking for another identity is PermissionDenied", "[ca]") {
  TestCa t = makeCa();
  auto now = std::chrono::system_clock::now();
  for (const std::string& asked : {std::string("spiffe://cluster.local/ns/default/sa/admin"),
                                   std::string("spiffe://cluster.local/ns/kube-system/sa/reviews"),
                                   std::string("spiffe://other.domain/ns/default/sa/reviews")}) {
    INFO(asked);
    auto r = t.ca->sign(csrFor(asked), kId, seconds(0), now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains(asked));
  }
}

TEST_CASE("malformed CSRs, forged CSR signatures and weak keys are InvalidArgument", "[ca]") {
  TestCa t = makeCa();
  auto now = std::chrono::system_clock::now();
  auto expect = [&](const std::string& csr, const std::string& why) {
    auto r = t.ca->sign(csr, kId, seconds(0), now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains(why));
  };
  expect("", "not one PEM CERTIFICATE REQUEST");
  expect("hello", "not one PEM CERTIFICATE REQUEST");
  expect(certPem(t.ca->signer()), "not one PEM CERTIFICATE REQUEST");
  std::string good = csrFor(kId.uri());
  expect(good + good, "not one PEM CERTIFICATE REQUEST");
  expect("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
         "does not parse");

  // A CSR whose public key was swapped after signing: it proves no possession of the key.
  auto other = generateKey(KeyType::EcdsaP256);
  auto csr = parseCsrPem(good);
  REQUIRE(csr.ok());
  X509_REQ_set_pubkey(csr->get(), other->get());
  BIO* bio = BIO_new(BIO_s_mem());
  i2d_X509_REQ_bio(bio, csr->get());  // re-encoded with the old signature
  BIO* pem = BIO_new(BIO_s_mem());
  char* der = nullptr;
  long len = BIO_get_mem_data(bio, &der);
  PEM_write_bio(pem, "CERTIFICATE REQUEST", "", reinterpret_cast<unsigned char*>(der), len);
  char* text = nullptr;
  long text_len = BIO_get_mem_data(pem, &text);
  std::string forged(text, static_cast<size_t>(text_len));
  BIO_free(bio);
  BIO_free(pem);
  expect(forged, "signature does not verify");

  // RSA 1024 is too weak.
  EVP_PKEY* weak = EVP_RSA_gen(static_cast<unsigned>(1024));
  REQUIRE(weak != nullptr);
  auto weak_csr = makeCsrPem(weak, kId.uri());
  EVP_PKEY_free(weak);
  REQUIRE(weak_csr.ok());
  expect(*weak_csr, "RSA 1024 is not supported");
}

TEST_CASE("validity: 24 h by default, as requested, capped by the maximum and the signer", "[ca]") {
  CaOptions options;
  options.max_ttl = hours(48);
  TestCa t = makeCa(KeyType::EcdsaP256, kRootTtl, options);
  auto now = std::chrono::system_clock::now();
  std::string csr = csrFor(kId.uri());

  auto def = t.ca->sign(csr, kId, seconds(0), now);
  REQUIRE(def.ok());
  CHECK(secondsBetween(def->not_before, now) == Approx(60).margin(1.01));  // backdated 1 min
  CHECK(secondsBetween(now, def->not_after) == Approx(24 * 3600).margin(1.01));
  X509Ptr leaf = leafOf(*def);
  CHECK(notAfter(leaf.get()) == def->not_after);

  auto hour = t.ca->sign(csr, kId, seconds(3600), now);
  REQUIRE(hour.ok());
  CHECK(secondsBetween(now, hour->not_after) == Approx(3600).margin(1.01));

  auto year = t.ca->sign(csr, kId, hours(24 * 365), now);
  REQUIRE(year.ok());
  CHECK(secondsBetween(now, year->not_after) == Approx(48 * 3600).margin(1.01));

  // A root that ends in two hours: no leaf outlives it.
  TestCa short_root = makeCa(KeyType::EcdsaP256, hours(2));
  auto capped = short_root.ca->sign(csr, kId, hours(24), now);
  REQUIRE(capped.ok());
  CHECK(capped->not_after == notAfter(short_root.ca->signer()));
  CHECK(secondsBetween(now, capped->not_after) == Approx(2 * 3600).margin(1.01));
  // And one that has ended signs nothing.
  auto late = short_root.ca->sign(csr, kId, hours(1), now + hours(3));
  CHECK(late.status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("serial numbers are random 128-bit values, unique", "[ca]") {
  TestCa t = makeCa();
  auto now = std::chrono::system_clock::now();
  std::string csr = csrFor(kId.uri());
  std::set<std::string> serials;
  int max_bits = 0;
  for (int i = 0; i < 200; ++i) {
    auto issued = t.ca->sign(csr, kId, seconds(0), now);
    REQUIRE(issued.ok());
    X509Ptr leaf = leafOf(*issued);
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr);
    CHECK(BN_is_negative(bn) == 0);
    CHECK(BN_num_bits(bn) <= 128);
    max_bits = std::max(max_bits, BN_num_bits(bn));
    BN_free(bn);
    serials.insert(issued->serial_hex);
  }
  CHECK(serials.size() == 200);
  CHECK(max_bits >= 126);  // 200 random 128-bit values: the largest has its top bits set
}

TEST_CASE("an RSA root signs, and RSA leaf keys get keyEncipherment", "[ca]") {
  TempDir tmp;
  std::string dir = tmp.file("ca");
  auto now = std::chrono::system_clock::now();
  REQUIRE(initCaDir(dir, KeyType::Rsa2048, "cluster.local", now).ok());
  auto ca = loadCaDir(dir, {}, now);
  REQUIRE(ca.ok());
  auto root_key = parsePrivateKeyPem(testing::slurp(dir + "/root-key.pem"));
  REQUIRE(root_key.ok());
  CHECK(describeKey(root_key->get()) == "RSA 2048");

  auto ec = (*ca)->sign(csrFor(kId.uri()), kId, seconds(0), now);
  REQUIRE(ec.ok());
  CHECK(X509_get_key_usage(leafOf(*ec).get()) == KU_DIGITAL_SIGNATURE);
  auto rsa = (*ca)->sign(csrFor(kId.uri(), KeyType::Rsa2048), kId, seconds(0), now);
  REQUIRE(rsa.ok());
  X509Ptr leaf = leafOf(*rsa);
  CHECK(X509_get_key_usage(leaf.get()) == (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  CHECK(X509_get_signature_nid(leaf.get()) == NID_sha256WithRSAEncryption);

  tmp.write("leaf.pem", rsa->cert_chain[0]);
  std::string out;
  int rc = run({"openssl", "verify", "-purpose", "sslserver", "-CAfile", dir + "/root-cert.pem",
                tmp.file("leaf.pem")},
               &out);
  INFO(out);
  CHECK(rc == 0);
}

TEST_CASE("an operator's intermediate signs and openssl verify accepts the chain", "[ca]") {
  TempDir tmp;
  OperatorCa op(tmp);
  auto now = std::chrono::system_clock::now();
  auto ca = CertificateAuthority::fromFiles(tmp.file("inter.pem"), tmp.file("inter.key"),
                                            tmp.file("root.pem"), {}, now);
  INFO(ca.status().ToString());
  REQUIRE(ca.ok());
  auto issued = (*ca)->sign(csrFor(kId.uri()), kId, hours(24 * 30), now);
  REQUIRE(issued.ok());
  // leaf, intermediate, root.
  REQUIRE(issued->cert_chain.size() == 3);
  CHECK(issued->cert_chain[1] ==
        certPem(parseCertsPem(testing::slurp(tmp.file("inter.pem")))->front().get()));
  CHECK(issued->cert_chain[2] ==
        certPem(parseCertsPem(testing::slurp(tmp.file("root.pem")))->front().get()));
  // Capped by the intermediate's notAfter (2 days), not the 30 days asked for.
  CHECK(secondsBetween(now, issued->not_after) < 2 * 86400 + 5);
  CHECK(secondsBetween(now, issued->not_after) > 2 * 86400 - 120);

  tmp.write("leaf.pem", issued->cert_chain[0]);
  tmp.write("untrusted.pem", issued->cert_chain[1]);
  tmp.write("bundle.pem", (*ca)->trustBundlePem());
  std::string out;
  for (const char* purpose : {"sslserver", "sslclient"}) {
    int rc = run({"openssl", "verify", "-purpose", purpose, "-CAfile", tmp.file("bundle.pem"),
                  "-untrusted", tmp.file("untrusted.pem"), tmp.file("leaf.pem")},
                 &out);
    INFO(out);
    CHECK(rc == 0);
    CHECK_THAT(out, Catch::Contains("leaf.pem: OK"));
  }
  // Without the intermediate the leaf does not verify: the check above means something.
  int rc = run({"openssl", "verify", "-CAfile", tmp.file("root.pem"), tmp.file("leaf.pem")}, &out);
  CHECK(rc != 0);
}

TEST_CASE("operator CA files are checked: key, CA bit, a root at the end", "[ca]") {
  TempDir tmp;
  OperatorCa op(tmp);
  auto now = std::chrono::system_clock::now();
  auto wrong_key = CertificateAuthority::fromFiles(tmp.file("inter.pem"), tmp.file("root.key"),
                                                   tmp.file("root.pem"), {}, now);
  CHECK_THAT(std::string(wrong_key.status().message()), Catch::Contains("does not match"));
  auto no_root =
      CertificateAuthority::fromFiles(tmp.file("inter.pem"), tmp.file("inter.key"), "", {}, now);
  CHECK_THAT(std::string(no_root.status().message()), Catch::Contains("self-signed root"));
  // The root alone, no chain file: fine.
  auto root_only =
      CertificateAuthority::fromFiles(tmp.file("root.pem"), tmp.file("root.key"), "", {}, now);
  CHECK(root_only.ok());
  // A workload certificate is not a CA.
  auto issued = (*root_only)->sign(csrFor(kId.uri()), kId, seconds(0), now);
  REQUIRE(issued.ok());
  tmp.write("leaf.pem", issued->cert_chain[0]);
  auto leaf_key = generateKey(KeyType::EcdsaP256);
  tmp.write("leaf.key", privateKeyPem(leaf_key->get()));
  auto not_ca = CertificateAuthority::fromFiles(tmp.file("leaf.pem"), tmp.file("leaf.key"),
                                                tmp.file("root.pem"), {}, now);
  CHECK_FALSE(not_ca.ok());
  // An intermediate from another root does not verify to the given root.
  TempDir other_tmp;
  OperatorCa other(other_tmp);
  auto foreign = CertificateAuthority::fromFiles(
      other_tmp.file("inter.pem"), other_tmp.file("inter.key"), tmp.file("root.pem"), {}, now);
  CHECK_THAT(std::string(foreign.status().message()), Catch::Contains("does not verify to a root"));
}

TEST_CASE("CA directory: created 0700 with 0600 keys, and the same root after a restart", "[ca]") {
  TempDir tmp;
  std::string dir = tmp.file("ca");
  auto now = std::chrono::system_clock::now();
  REQUIRE(initCaDir(dir, KeyType::EcdsaP256, "cluster.local", now).ok());
  auto mode = [](const std::string& p) {
    struct stat st {};
    stat(p.c_str(), &st);
    return st.st_mode & 0777;
  };
  CHECK(mode(dir) == 0700);
  CHECK(mode(dir + "/root-key.pem") == 0600);
  CHECK(mode(dir + "/token-key.pem") == 0600);
  auto first = loadCaDir(dir, {}, now);
  REQUIRE(first.ok());
  std::string serial = serialHex((*first)->signer());
  REQUIRE(initCaDir(dir, KeyType::EcdsaP256, "cluster.local", now).ok());
  auto second = loadCaDir(dir, {}, now);
  REQUIRE(second.ok());
  CHECK(serialHex((*second)->signer()) == serial);
  CHECK_THAT(subjectString((*second)->signer()), Catch::Contains("O=cluster.local"));
  CHECK(isSelfSigned((*second)->signer()));
}

TEST_CASE("root rotation: old and new leaves both verify against the overlap bundle", "[ca]") {
  TempDir tmp;
  std::string dir = tmp.file("ca");
  auto now = std::chrono::system_clock::now();
  REQUIRE(initCaDir(dir, KeyType::EcdsaP256, "cluster.local", now).ok());
  auto directory = CaDirectory::open(dir, {}, KeyType::EcdsaP256);
  REQUIRE(directory.ok());
  auto old_ca = (*directory)->current(now);
  auto old_leaf = old_ca->sign(csrFor(kId.uri()), kId, seconds(0), now);
  REQUIRE(old_leaf.ok());
  std::string old_root = certPem(old_ca->signer());

  auto subject = rotateRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(48), now);
  REQUIRE(subject.ok());
  // The server's CaDirectory notices the new files on its next use.
  auto new_ca = (*directory)->current(now);
  REQUIRE(new_ca != old_ca);
  CHECK(serialHex(new_ca->signer()) != serialHex(old_ca->signer()));
  REQUIRE(new_ca->roots().size() == 2);
  auto new_leaf = new_ca->sign(csrFor(kId.uri()), kId, seconds(0), now);
  REQUIRE(new_leaf.ok());
  // The newest root signs and is last in the chain; the old one is in it too.
  CHECK(new_leaf->cert_chain.back() == certPem(new_ca->signer()));
  CHECK(new_leaf->cert_chain.size() == 3);
  CHECK(new_leaf->cert_chain[1] == old_root);

  X509Ptr a = leafOf(*old_leaf), b = leafOf(*new_leaf);
  CHECK(verifyChain(a.get(), {}, new_ca->roots(), now).ok());
  CHECK(verifyChain(b.get(), {}, new_ca->roots(), now).ok());
  // The old root alone does not verify the new leaf: the bundle is what makes it work.
  CHECK_FALSE(verifyChain(b.get(), {}, old_ca->roots(), now).ok());

  tmp.write("old.pem", old_leaf->cert_chain[0]);
  tmp.write("new.pem", new_leaf->cert_chain[0]);
  tmp.write("bundle.pem", new_ca->trustBundlePem());
  std::string out;
  int rc = run({"openssl", "verify", "-CAfile", tmp.file("bundle.pem"), tmp.file("old.pem"),
                tmp.file("new.pem")},
               &out);
  INFO(out);
  CHECK(rc == 0);

  // After the overlap the old root leaves the bundle, and its leaves stop verifying.
  auto later = now + hours(49);
  auto after = (*directory)->current(later);
  REQUIRE(after->roots().size() == 1);
  CHECK(serialHex(after->signer()) == serialHex(new_ca->signer()));
  CHECK_FALSE(verifyChain(a.get(), {}, after->roots(), now).ok());
}

TEST_CASE("rotating twice keeps every root still in its overlap", "[ca]") {
  TempDir tmp;
  std::string dir = tmp.file("ca");
  auto now = std::chrono::system_clock::now();
  REQUIRE(initCaDir(dir, KeyType::EcdsaP256, "cluster.local", now).ok());
  REQUIRE(rotateRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(10), now).ok());
  REQUIRE(rotateRoot(dir, KeyType::Rsa2048, "cluster.local", hours(20), now + hours(1)).ok());
  SystemTime next;
  auto ca = loadCaDir(dir, {}, now + hours(2), &next);
  REQUIRE(ca.ok());
  CHECK((*ca)->roots().size() == 3);
  CHECK(next == std::chrono::system_clock::from_time_t(
                    std::chrono::system_clock::to_time_t(now + hours(10))));
  auto later = loadCaDir(dir, {}, now + hours(12));
  REQUIRE(later.ok());
  CHECK((*later)->roots().size() == 2);
  auto key = parsePrivateKeyPem(testing::slurp(dir + "/root-key.pem"));
  CHECK(isRsa(key->get()));
}

// --- Two-step root rotation ---

X509Ptr readCertAt(const std::string& path) {
  auto certs = parseCertsPem(testing::slurp(path));
  REQUIRE(certs.ok());
  return std::move(certs->front());
}

SystemTime wholeSeconds(SystemTime t) {
  return std::chrono::system_clock::from_time_t(std::chrono::system_clock::to_time_t(t));
}

TEST_CASE(
    "two-step rotation: a staged root is published while the old root signs, signs after its "
    "propagation period, and the old root leaves after the overlap",
    "[ca][rotation]") {
  TempDir tmp;
  std::string dir = tmp.file("ca");
  auto t0 = std::chrono::system_clock::now();
  auto directory = CaDirectory::open(dir, {}, KeyType::EcdsaP256);
  REQUIRE(directory.ok());
  auto before = (*directory)->current(t0);
  const std::string old_root = certPem(before->signer());

  auto staged_at = t0 + seconds(5);
  auto subject =
      stageRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(24), hours(48), staged_at);
  REQUIRE(subject.ok());
  CHECK(testing::slurp(dir + "/root-cert.pem") == old_root);  // nothing signs differently yet

  // Staged: the bundle has both roots, the old one still signs (and is last, Istio's order).
  auto staged = (*directory)->current(staged_at);
  REQUIRE(staged != before);
  CHECK(certPem(staged->signer()) == old_root);
  REQUIRE(staged->roots().size() == 2);
  CHECK(subjectString(staged->roots()[0]) == *subject);
  auto during = staged->sign(csrFor(kId.uri()), kId, hours(48), staged_at);
  REQUIRE(during.ok());
  REQUIRE(during->cert_chain.size() == 3);
  CHECK(during->cert_chain.back() == old_root);
  CHECK(subjectString(leafOf(*during).get()) == "");
  CHECK(verifyChain(leafOf(*during).get(), {}, {staged->roots()[1]}, staged_at).ok());
  // A proxy that renewed now keeps this bundle.
  std::vector<X509Ptr> proxy_bundle;
  for (size_t i = 1; i < during->cert_chain.size(); ++i) {
    proxy_bundle.push_back(std::move(parseCertsPem(during->cert_chain[i])->front()));
  }

  // One second before the end of the propagation period nothing has changed; at the end the
  // staged root signs without anything having touched the files.
  auto activation = wholeSeconds(staged_at + hours(24));
  CHECK(certPem((*directory)->current(activation - seconds(1))->signer()) == old_root);
  auto active = (*directory)->current(activation);
  CHECK(subjectString(active->signer()) == *subject);
  REQUIRE(active->roots().size() == 2);
  CHECK(certPem(active->roots()[0]) == old_root);
  auto after = active->sign(csrFor(kId.uri()), kId, seconds(0), activation);
  REQUIRE(after.ok());
  CHECK(after->cert_chain.back() == certPem(active->signer()));

  // The point of the two steps: the bundle the proxy got while the root was staged verifies
  // the new root's leaves, and the new bundle still verifies the old root's leaves.
  X509Ptr old_leaf = leafOf(*during), new_leaf = leafOf(*after);
  std::vector<const X509*> staged_bundle{proxy_bundle[0].get(), proxy_bundle[1].get()};
  CHECK(verifyChain(new_leaf.get(), {}, staged_bundle, activation).ok());
  CHECK(verifyChain(old_leaf.get(), {}, active->roots(), activation).ok());
  CHECK_FALSE(verifyChain(new_leaf.get(), {}, before->roots(), activation).ok());

  // The overlap counts from the activation.
  auto gone = activation + hours(48);
  CHECK((*directory)->current(gone - seconds(1))->roots().size() == 2);
  auto last = (*directory)->current(gone);
  REQUIRE(last->roots().size() == 1);
  CHECK(subjectString(last->signer()) == *subject);
  CHECK_FALSE(verifyChain(old_leaf.get(), {}, last->roots(), activation).ok());
}

TEST_CASE(
    "two-step rotation survives a restart mid-way, and activate-root moves a due staged root "
    "into place without extending the old root's overlap",
    "[ca][rotation]") {
  TempDir tmp;
  std::string dir = tmp.file("ca");
  auto t0 = wholeSeconds(std::chrono::system_clock::now());
  REQUIRE(initCaDir(dir, KeyType::EcdsaP256, "cluster.local", t0).ok());
  const std::string old_root = testing::slurp(dir + "/root-cert.pem");
  auto subject = stageRoot(dir, KeyType::Rsa2048, "cluster.local", hours(10), hours(20), t0);
  REQUIRE(subject.ok());
  auto state = caDirState(dir, t0);
  REQUIRE(state.ok());
  REQUIRE(state->staged.has_value());
  CHECK(state->staged->subject == *subject);
  CHECK(state->staged->activate_at == t0 + hours(10));
  CHECK(state->staged->overlap == hours(20));
  CHECK(state->retired.empty());

  // A server started mid-way (a restart) sees the same state, and when it changes next.
  SystemTime next;
  auto mid = loadCaDir(dir, {}, t0 + hours(3), &next);
  REQUIRE(mid.ok());
  CHECK(certPem((*mid)->signer()) == old_root);
  CHECK((*mid)->roots().size() == 2);
  CHECK(next == t0 + hours(10));
  auto opened = CaDirectory::open(dir, {}, KeyType::EcdsaP256);
  REQUIRE(opened.ok());
  CHECK(certPem((*opened)->current(std::chrono::system_clock::now())->signer()) == old_root);

  // Restarted after the activation time: the new root signs, the old one is retired.
  auto late = loadCaDir(dir, {}, t0 + hours(11), &next);
  REQUIRE(late.ok());
  CHECK(subjectString((*late)->signer()) == *subject);
  CHECK((*late)->roots().size() == 2);
  CHECK(next == t0 + hours(30));
  state = caDirState(dir, t0 + hours(11));
  REQUIRE(state.ok());
  CHECK_FALSE(state->staged.has_value());
  REQUIRE(state->retired.size() == 1);
  CHECK(state->retired[0].keep_until == t0 + hours(30));

  // Another rotation moves the due root into place first: root-cert.pem is the new root, the
  // old root is retired until activation + overlap (not from now), and the next root is staged.
  auto third =
      stageRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(10), hours(20), t0 + hours(12));
  REQUIRE(third.ok());
  CHECK(subjectString(readCertAt(dir + "/root-cert.pem").get()) == *subject);
  auto key = parsePrivateKeyPem(testing::slurp(dir + "/root-key.pem"));
  REQUIRE(key.ok());
  CHECK(isRsa(key->get()));
  state = caDirState(dir, t0 + hours(12));
  REQUIRE(state.ok());
  CHECK(state->signer == *subject);
  REQUIRE(state->staged.has_value());
  CHECK(state->staged->subject == *third);
  REQUIRE(state->retired.size() == 1);
  CHECK(state->retired[0].keep_until == t0 + hours(30));
  auto ca = loadCaDir(dir, {}, t0 + hours(12));
  REQUIRE(ca.ok());
  CHECK((*ca)->roots().size() == 3);
}

TEST_CASE("activate-root: a staged root signs at once - refusals say what to do",
          "[ca][rotation]") {
  TempDir tmp;
  std::string dir = tmp.file("ca");
  auto t0 = wholeSeconds(std::chrono::system_clock::now());
  REQUIRE(initCaDir(dir, KeyType::EcdsaP256, "cluster.local", t0).ok());
  const std::string old_root = testing::slurp(dir + "/root-cert.pem");

  auto none = activateStagedRoot(dir, t0);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(none.status().message()), Catch::Contains("no root is staged"));

  auto subject = stageRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(24 * 90), hours(20), t0);
  REQUIRE(subject.ok());
  auto again = stageRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(1), hours(1), t0);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(again.status().message()), Catch::Contains("activate-root"));

  auto activated = activateStagedRoot(dir, t0 + hours(2), hours(5));
  REQUIRE(activated.ok());
  CHECK(*activated == *subject);
  CHECK_FALSE(std::filesystem::exists(dir + "/staged-root-cert.pem"));
  CHECK_FALSE(std::filesystem::exists(dir + "/staged-root-key.pem"));
  SystemTime next;
  auto ca = loadCaDir(dir, {}, t0 + hours(2), &next);
  REQUIRE(ca.ok());
  CHECK(subjectString((*ca)->signer()) == *subject);
  CHECK(certPem((*ca)->roots()[0]) == old_root);
  CHECK(next == t0 + hours(7));  // the overlap given on the command line

  // One-step rotation (propagation 0) still works, for scripts that want it.
  auto one_step = rotateRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(1), t0 + hours(3));
  REQUIRE(one_step.ok());
  CHECK(subjectString(readCertAt(dir + "/root-cert.pem").get()) == *one_step);
  CHECK(caDirState(dir, t0 + hours(3))->retired.size() == 2);
}

TEST_CASE(
    "two-step rotation: an activation interrupted half-way loads and is finished by the next "
    "command - broken staged files are refused by name",
    "[ca][rotation]") {
  TempDir tmp;
  std::string dir = tmp.file("ca");
  auto t0 = wholeSeconds(std::chrono::system_clock::now());
  REQUIRE(initCaDir(dir, KeyType::EcdsaP256, "cluster.local", t0).ok());
  const std::string old_key = testing::slurp(dir + "/root-key.pem");

  SECTION("a crash after the new certificate was written, before its key") {
    auto subject = stageRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(1), hours(2), t0);
    REQUIRE(subject.ok());
    std::string staged_text = testing::slurp(dir + "/staged-root-cert.pem");
    tmp.write("ca/root-cert.pem", certPem(readCertAt(dir + "/staged-root-cert.pem").get()));
    auto ca = loadCaDir(dir, {}, t0);
    INFO((ca.ok() ? "" : ca.status().ToString()));
    REQUIRE(ca.ok());
    CHECK(subjectString((*ca)->signer()) == *subject);
    CHECK((*ca)->sign(csrFor(kId.uri()), kId, seconds(0), t0).ok());
    // The next rotation puts the matching key in place and removes the staged files.
    REQUIRE(stageRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(1), hours(2), t0).ok());
    auto key = parsePrivateKeyPem(testing::slurp(dir + "/root-key.pem"));
    REQUIRE(key.ok());
    CHECK(X509_check_private_key(readCertAt(dir + "/root-cert.pem").get(), key->get()) == 1);
    CHECK(caDirState(dir, t0)->staged.has_value());
  }

  SECTION("a staged key that does not match its certificate") {
    REQUIRE(stageRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(1), hours(2), t0).ok());
    tmp.write("ca/staged-root-key.pem", old_key);
    auto activated = activateStagedRoot(dir, t0);
    REQUIRE_FALSE(activated.ok());
    CHECK_THAT(std::string(activated.status().message()),
               Catch::Contains("staged-root-key.pem' does not match"));
    // Before its time it is only published, so the CA still loads; after it, it cannot sign.
    CHECK(loadCaDir(dir, {}, t0).ok());
    auto due = loadCaDir(dir, {}, t0 + hours(2));
    REQUIRE_FALSE(due.ok());
    CHECK_THAT(std::string(due.status().message()), Catch::Contains("no key in"));
  }

  SECTION("a staged certificate file without its activation time") {
    REQUIRE(stageRoot(dir, KeyType::EcdsaP256, "cluster.local", hours(1), hours(2), t0).ok());
    std::string text = testing::slurp(dir + "/staged-root-cert.pem");
    tmp.write("ca/staged-root-cert.pem", text.substr(text.find("overlap:")));
    auto ca = loadCaDir(dir, {}, t0);
    REQUIRE_FALSE(ca.ok());
    CHECK_THAT(std::string(ca.status().message()), Catch::Contains("staged-root-cert.pem"));
    CHECK_THAT(std::string(ca.status().message()), Catch::Contains("activate-at"));
  }
}

}  // namespace
}  // namespace remora::certs
