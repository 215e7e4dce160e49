// JSON Web Tokens in the JWS compact serialization (RFC 7515, 7519): base64url, parsing into
// header and claims, and ES256 / RS256 signatures with OpenSSL. Only these two algorithms
// exist here: "none" and the HMAC family (HS*) are refused, since a verifier that holds public
// keys must never treat one as an HMAC secret.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "certs/x509.h"

namespace remora::certs {

// Unpadded base64url (RFC 4648 section 5), as JWS uses it. Decoding refuses padding,
// characters outside the alphabet, and non-zero bits left over after the last byte.
std::string base64UrlEncode(std::string_view data);
absl::StatusOr<std::string> base64UrlDecode(std::string_view text);

// ECDSA signatures in JWS are r||s, each a fixed-size big-endian number (32 bytes for P-256);
// OpenSSL speaks DER (ECDSA-Sig-Value).
absl::StatusOr<std::string> ecdsaRawToDer(std::string_view raw);
absl::StatusOr<std::string> ecdsaDerToRaw(std::string_view der, size_t field_bytes);

struct Jwt {
  std::string alg;  // "ES256" or "RS256"
  std::string kid;  // may be empty
  google::protobuf::Struct header;
  google::protobuf::Struct claims;
  std::string signing_input;  // "<header>.<payload>" as received
  std::string signature;      // decoded bytes
};

// Splits and decodes a compact JWS; checks the structure and the algorithm, not the signature.
// Errors are InvalidArgument and say what is wrong ("JWT header is not base64url", ...).
absl::StatusOr<Jwt> parseJwt(std::string_view token);

// Whether one of `keys` of the algorithm's key type (RSA for RS256, EC P-256 for ES256)
// verifies the signature. Unauthenticated when none does.
absl::Status verifyJwtSignature(const Jwt& jwt, const std::vector<const EVP_PKEY*>& keys);

// A compact ES256 JWS of `claims`, signed with an EC P-256 key; `kid` is omitted when empty.
absl::StatusOr<std::string> signJwtEs256(const google::protobuf::Struct& claims, EVP_PKEY* key,
                                         const std::string& kid);

}  // namespace remora::certs
