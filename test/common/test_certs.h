// Certificates for tests, made on the fly with OpenSSL: a root CA and leaves carrying SPIFFE
// IDs (URI SANs), with chosen validity, so a test can present an expired certificate or one
// from another CA.
#pragma once

#include <string>

namespace remora::testing {

struct TestCert {
  std::string cert_pem;  // the certificate (for a leaf: just the leaf)
  std::string key_pem;   // its private key (ECDSA P-256), PKCS#8 PEM
};

// A self-signed root CA valid from an hour ago for a day.
TestCert makeRootCa(const std::string& common_name);
// A leaf signed by `ca`: URI SAN `uri` (may be empty), DNS SAN `dns` (may be empty), valid
// from now + not_before_s to now + not_after_s (seconds; negative values lie in the past).
TestCert issueLeaf(const TestCert& ca, const std::string& uri, const std::string& dns = "",
                   long not_before_s = -60, long not_after_s = 3600);

}  // namespace remora::testing
