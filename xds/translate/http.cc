// Envoy v3 http_connection_manager and RouteConfiguration -> remora's HTTP model.
#include "xds/translate/http.h"

#include <google/protobuf/struct.pb.h>
#include <re2/re2.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/access_loggers/stream/v3/stream.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "proxy/common/strings.h"
#include "udpa/type/v1/typed_struct.pb.h"
#include "xds/translate/rbac.h"
#include "xds/type/v3/typed_struct.pb.h"

// Control planes still send Envoy's deprecated fields (HeaderValueOption.append, the direct
// HeaderMatcher fields, FileAccessLog.format, google_re2): reading them is the point.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace remora::xds {
namespace {

using envoy::config::core::v3::HeaderValueOption;
using envoy::config::route::v3::RedirectAction;
using envoy::config::route::v3::Route;
using envoy::config::route::v3::RouteAction;
using envoy::config::route::v3::RouteConfiguration;
using envoy::config::route::v3::RouteMatch;
using envoy::config::route::v3::VirtualHost;
using envoy::config::route::v3::WeightedCluster;
using Hcm = envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using RouterProto = envoy::extensions::filters::http::router::v3::Router;
using FileAccessLogProto = envoy::extensions::access_loggers::file::v3::FileAccessLog;
using StdoutAccessLogProto = envoy::extensions::access_loggers::stream::v3::StdoutAccessLog;
using StderrAccessLogProto = envoy::extensions::access_loggers::stream::v3::StderrAccessLog;
template <typename T>
using Repeated = google::protobuf::RepeatedPtrField<T>;

constexpr std::string_view kRouter = "envoy.filters.http.router";
constexpr std::string_view kRbac = "envoy.filters.http.rbac";
using HttpRbacProto = envoy::extensions::filters::http::rbac::v3::RBAC;
// Envoy's default for the RE2 program size above which a regex is refused
// (runtime key re2.max_program_size.error_level).
constexpr int kMaxRegexProgramSize = 100;

absl::Status error(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(cat(path, ": ", what));
}

absl::StatusOr<config::Duration> duration(const google::protobuf::Duration& d,
                                          const std::string& path) {
  if (d.seconds() < 0 || d.nanos() < 0) return error(path, "must not be negative");
  if (d.seconds() > 315'576'000'000LL) return error(path, "out of range");
  return config::Duration(d.seconds() * 1000 + d.nanos() / 1'000'000);
}

std::string describeAny(const google::protobuf::Any& any) {
  std::string out = any.type_url();
  if (any.Is<udpa::type::v1::TypedStruct>()) {
    udpa::type::v1::TypedStruct ts;
    if (any.UnpackTo(&ts)) out = cat(any.type_url(), " wrapping ", ts.type_url());
  } else if (any.Is<::xds::type::v3::TypedStruct>()) {
    ::xds::type::v3::TypedStruct ts;
    if (any.UnpackTo(&ts)) out = cat(any.type_url(), " wrapping ", ts.type_url());
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

// Envoy's (non-strict) HTTP_HEADER_NAME and HTTP_HEADER_VALUE rules: no NUL, CR or LF.
bool headerSafe(std::string_view s) {
  return s.find_first_of(std::string_view("\0\r\n", 3)) == s.npos;
}

absl::Status checkHeaderName(std::string_view name, const std::string& path) {
  if (name.empty()) return error(path, "must not be empty");
  if (!headerSafe(name)) return error(path, "not a valid header name");
  return absl::OkStatus();
}

absl::Status checkHeaderValue(std::string_view value, const std::string& path) {
  if (!headerSafe(value)) return error(path, "contains NUL, CR or LF");
  return absl::OkStatus();
}

// --- Regular expressions and string matchers ---

// Compiles like Envoy (RE2, quiet) and refuses what Envoy refuses: invalid syntax, and programs
// larger than the limit (google_re2.max_program_size when given, else Envoy's default 100).
absl::StatusOr<std::string> translateRegex(const envoy::type::matcher::v3::RegexMatcher& m,
                                           const std::string& path, TranslateNotes* notes) {
  if (auto s = checkFields(m, path, {"google_re2", "regex"}, {}, notes); !s.ok()) return s;
  int limit = kMaxRegexProgramSize;
  if (m.has_google_re2()) {
    const auto& g = m.google_re2();
    if (auto s = checkFields(g, fieldPath(path, "google_re2"), {"max_program_size"}, {}, notes);
        !s.ok()) {
      return s;
    }
    if (g.has_max_program_size()) {
      limit = static_cast<int>(std::min<uint32_t>(g.max_program_size().value(), INT32_MAX));
    }
  }
  std::string rpath = fieldPath(path, "regex");
  if (m.regex().empty()) return error(rpath, "must not be empty");
  re2::RE2 re(m.regex(), re2::RE2::Quiet);
  if (!re.ok()) {
    return error(rpath,
                 cat("'", m.regex(), "' is not a valid RE2 regular expression: ", re.error()));
  }
  if (re.ProgramSize() > limit) {
    return error(rpath, cat("'", m.regex(), "': RE2 program size ", re.ProgramSize(),
                            " exceeds the maximum of ", limit));
  }
  return m.regex();
}

absl::StatusOr<config::RegexRewrite> translateRegexRewrite(
    const envoy::type::matcher::v3::RegexMatchAndSubstitute& r, const std::string& path,
    TranslateNotes* notes) {
  if (auto s = checkFields(r, path, {"pattern", "substitution"}, {}, notes); !s.ok()) return s;
  if (!r.has_pattern()) return error(fieldPath(path, "pattern"), "is required");
  auto pattern = translateRegex(r.pattern(), fieldPath(path, "pattern"), notes);
  if (!pattern.ok()) return pattern.status();
  std::string spath = fieldPath(path, "substitution");
  if (auto s = checkHeaderValue(r.substitution(), spath); !s.ok()) return s;
  re2::RE2 re(*pattern, re2::RE2::Quiet);
  std::string why;
  if (!re.CheckRewriteString(r.substitution(), &why)) {
    return error(spath, cat("'", r.substitution(), "': ", why));
  }
  return config::RegexRewrite{*pattern, r.substitution()};
}

}  // namespace

absl::StatusOr<config::StringMatch> translateStringMatcher(
    const envoy::type::matcher::v3::StringMatcher& m, const std::string& path,
    TranslateNotes* notes) {
  using M = envoy::type::matcher::v3::StringMatcher;
  if (auto s = checkFields(m, path,
                           {"exact", "prefix", "suffix", "safe_regex", "contains", "ignore_case"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  config::StringMatch out;
  // ignore_case has no effect on safe_regex in Envoy; kept, and ignored the same way.
  out.ignore_case = m.ignore_case();
  switch (m.match_pattern_case()) {
    case M::kExact:
      out.kind = config::StringMatch::Kind::Exact;
      out.value = m.exact();
      break;
    case M::kPrefix:
      out.kind = config::StringMatch::Kind::Prefix;
      out.value = m.prefix();
      break;
    case M::kSuffix:
      out.kind = config::StringMatch::Kind::Suffix;
      out.value = m.suffix();
      break;
    case M::kContains:
      out.kind = config::StringMatch::Kind::Contains;
      out.value = m.contains();
      break;
    case M::kSafeRegex: {
      auto re = translateRegex(m.safe_regex(), fieldPath(path, "safe_regex"), notes);
      if (!re.ok()) return re.status();
      out.kind = config::StringMatch::Kind::Regex;
      out.value = *re;
      return out;
    }
    default:
      return error(path, "needs one of exact, prefix, suffix, safe_regex or contains");
  }
  // Envoy's validation: prefix, suffix and contains need at least one character.
  if (out.kind != config::StringMatch::Kind::Exact && out.value.empty()) {
    const char* field = out.kind == config::StringMatch::Kind::Prefix   ? "prefix"
                        : out.kind == config::StringMatch::Kind::Suffix ? "suffix"
                                                                        : "contains";
    return error(fieldPath(path, field), "must not be empty");
  }
  return out;
}

namespace {

// --- Header mutations ---

// Envoy formats header values as substitution strings: "%%" is a literal '%', any other '%'
// starts a %VARIABLE% that remora does not evaluate (yet), so it is refused.
absl::StatusOr<std::string> literalHeaderValue(std::string_view v, const std::string& path) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '%') {
      out.push_back(v[i]);
    } else if (i + 1 < v.size() && v[i + 1] == '%') {
      out.push_back('%');
      ++i;
    } else {
      return error(path, cat("'", v,
                             "': Envoy's %VARIABLE% substitutions are not supported by remora "
                             "(write %% for a literal '%')"));
    }
  }
  return out;
}

}  // namespace

absl::Status translateHeadersToAdd(const Repeated<HeaderValueOption>& opts, const std::string& path,
                                   std::string_view field, std::vector<config::HeaderToAdd>* out,
                                   TranslateNotes* notes) {
  if (opts.size() > 1000) return error(fieldPath(path, field), "at most 1000 entries");
  for (int i = 0; i < opts.size(); ++i) {
    const auto& o = opts[i];
    std::string opath = indexPath(path, field, static_cast<size_t>(i));
    if (auto s = checkFields(o, opath, {"header", "append", "append_action", "keep_empty_value"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    std::string hpath = fieldPath(opath, "header");
    if (!o.has_header()) return error(hpath, "is required");
    if (auto s = checkFields(o.header(), hpath, {"key", "value", "raw_value"}, {}, notes); !s.ok())
      return s;
    config::HeaderToAdd h;
    std::string kpath = fieldPath(hpath, "key");
    if (auto s = checkHeaderName(o.header().key(), kpath); !s.ok()) return s;
    h.name = lower(o.header().key());
    // Envoy: ":"-prefixed headers and host may not be modified by header mutations.
    if (h.name[0] == ':' || h.name == "host") {
      return error(kpath, cat("'", o.header().key(),
                              "': :-prefixed or host headers may not be "
                              "modified"));
    }
    if (!o.header().value().empty() && !o.header().raw_value().empty()) {
      return error(hpath, "only one of value or raw_value can be set");
    }
    bool raw = !o.header().raw_value().empty();
    std::string vpath = fieldPath(hpath, raw ? "raw_value" : "value");
    const std::string& v = raw ? o.header().raw_value() : o.header().value();
    if (auto s = checkHeaderValue(v, vpath); !s.ok()) return s;
    auto value = literalHeaderValue(v, vpath);
    if (!value.ok()) return value.status();
    h.value = *value;
    using A = HeaderValueOption::HeaderAppendAction;
    A action = o.append_action();
    if (o.has_append()) {
      // Envoy: the deprecated `append` maps true -> APPEND_IF_EXISTS_OR_ADD and false ->
      // OVERWRITE_IF_EXISTS_OR_ADD, and may not be combined with append_action.
      if (action != HeaderValueOption::APPEND_IF_EXISTS_OR_ADD) {
        return error(opath, "both append and append_action are set and it's not allowed");
      }
      action = o.append().value() ? HeaderValueOption::APPEND_IF_EXISTS_OR_ADD
                                  : HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD;
    }
    switch (action) {
      case HeaderValueOption::APPEND_IF_EXISTS_OR_ADD:
        h.action = config::HeaderToAdd::Action::AppendIfExistsOrAdd;
        break;
      case HeaderValueOption::ADD_IF_ABSENT:
        h.action = config::HeaderToAdd::Action::AddIfAbsent;
        break;
      case HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD:
        h.action = config::HeaderToAdd::Action::OverwriteIfExistsOrAdd;
        break;
      case HeaderValueOption::OVERWRITE_IF_EXISTS:
        h.action = config::HeaderToAdd::Action::OverwriteIfExists;
        break;
      default:
        return error(fieldPath(opath, "append_action"), "unknown value");
    }
    h.keep_empty_value = o.keep_empty_value();
    out->push_back(std::move(h));
  }
  return absl::OkStatus();
}

absl::Status translateHeadersToRemove(const Repeated<std::string>& names, const std::string& path,
                                      std::string_view field, std::vector<std::string>* out) {
  for (int i = 0; i < names.size(); ++i) {
    std::string npath = indexPath(path, field, static_cast<size_t>(i));
    if (auto s = checkHeaderName(names[i], npath); !s.ok()) return s;
    std::string name = lower(names[i]);
    // Envoy refuses to remove pseudo-headers and host: the request would be malformed.
    if (name[0] == ':' || name == "host") {
      return error(npath, cat("'", names[i], "': :-prefixed or host headers may not be removed"));
    }
    out->push_back(std::move(name));
  }
  return absl::OkStatus();
}

namespace {

// Route, VirtualHost, RouteConfiguration and ClusterWeight carry the same four fields.
template <typename Msg>
absl::StatusOr<config::HeaderMutations> translateMutations(const Msg& m, const std::string& path,
                                                           TranslateNotes* notes) {
  config::HeaderMutations out;
  if (auto s = translateHeadersToAdd(m.request_headers_to_add(), path, "request_headers_to_add",
                                     &out.request_add, notes);
      !s.ok()) {
    return s;
  }
  if (auto s = translateHeadersToRemove(m.request_headers_to_remove(), path,
                                        "request_headers_to_remove", &out.request_remove);
      !s.ok()) {
    return s;
  }
  if (auto s = translateHeadersToAdd(m.response_headers_to_add(), path, "response_headers_to_add",
                                     &out.response_add, notes);
      !s.ok()) {
    return s;
  }
  if (auto s = translateHeadersToRemove(m.response_headers_to_remove(), path,
                                        "response_headers_to_remove", &out.response_remove);
      !s.ok()) {
    return s;
  }
  return out;
}

// --- Route matching ---

}  // namespace

absl::StatusOr<config::HeaderMatch> translateHeaderMatcher(
    const envoy::config::route::v3::HeaderMatcher& h, const std::string& path,
    TranslateNotes* notes) {
  using H = envoy::config::route::v3::HeaderMatcher;
  if (auto s = checkFields(h, path,
                           {"name", "exact_match", "safe_regex_match", "range_match",
                            "present_match", "prefix_match", "suffix_match", "contains_match",
                            "string_match", "invert_match", "treat_missing_header_as_empty"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  config::HeaderMatch out;
  if (auto s = checkHeaderName(h.name(), fieldPath(path, "name")); !s.ok()) return s;
  out.name = lower(h.name());
  out.invert = h.invert_match();
  out.treat_missing_as_empty = h.treat_missing_header_as_empty();
  auto stringKind = [&](config::StringMatch::Kind kind, const std::string& value,
                        std::string_view field) -> absl::Status {
    if (kind != config::StringMatch::Kind::Exact && value.empty()) {
      return error(fieldPath(path, field), "must not be empty");
    }
    out.kind = config::HeaderMatch::Kind::String;
    out.string_match.kind = kind;
    out.string_match.value = value;
    return absl::OkStatus();
  };
  absl::Status st;
  switch (h.header_match_specifier_case()) {
    case H::kExactMatch:
      // Envoy's deprecated exact_match "" matches any value of a present header: a prefix ""
      // behaves the same (including with treat_missing_header_as_empty and invert_match).
      out.kind = config::HeaderMatch::Kind::String;
      out.string_match.kind = h.exact_match().empty() ? config::StringMatch::Kind::Prefix
                                                      : config::StringMatch::Kind::Exact;
      out.string_match.value = h.exact_match();
      break;
    case H::kPrefixMatch:
      st = stringKind(config::StringMatch::Kind::Prefix, h.prefix_match(), "prefix_match");
      break;
    case H::kSuffixMatch:
      st = stringKind(config::StringMatch::Kind::Suffix, h.suffix_match(), "suffix_match");
      break;
    case H::kContainsMatch:
      st = stringKind(config::StringMatch::Kind::Contains, h.contains_match(), "contains_match");
      break;
    case H::kSafeRegexMatch: {
      auto re = translateRegex(h.safe_regex_match(), fieldPath(path, "safe_regex_match"), notes);
      if (!re.ok()) return re.status();
      out.kind = config::HeaderMatch::Kind::String;
      out.string_match.kind = config::StringMatch::Kind::Regex;
      out.string_match.value = *re;
      break;
    }
    case H::kStringMatch: {
      auto sm = translateStringMatcher(h.string_match(), fieldPath(path, "string_match"), notes);
      if (!sm.ok()) return sm.status();
      out.kind = config::HeaderMatch::Kind::String;
      out.string_match = *sm;
      break;
    }
    case H::kRangeMatch:
      out.kind = config::HeaderMatch::Kind::Range;
      out.range_start = h.range_match().start();
      out.range_end = h.range_match().end();
      break;
    case H::kPresentMatch:
      out.kind = config::HeaderMatch::Kind::Present;
      out.present = h.present_match();
      break;
    default:
      // Envoy: a matcher with only a name is a presence match.
      out.kind = config::HeaderMatch::Kind::Present;
      out.present = true;
      break;
  }
  if (!st.ok()) return st;
  return out;
}

namespace {

absl::StatusOr<config::QueryParamMatch> translateQueryMatcher(
    const envoy::config::route::v3::QueryParameterMatcher& q, const std::string& path,
    TranslateNotes* notes) {
  using Q = envoy::config::route::v3::QueryParameterMatcher;
  if (auto s = checkFields(q, path, {"name", "string_match", "present_match"}, {}, notes); !s.ok())
    return s;
  config::QueryParamMatch out;
  if (q.name().empty()) return error(fieldPath(path, "name"), "must not be empty");
  if (q.name().size() > 1024) return error(fieldPath(path, "name"), "longer than 1024 bytes");
  out.name = q.name();
  switch (q.query_parameter_match_specifier_case()) {
    case Q::kStringMatch: {
      auto sm = translateStringMatcher(q.string_match(), fieldPath(path, "string_match"), notes);
      if (!sm.ok()) return sm.status();
      out.string_match = *sm;
      break;
    }
    case Q::kPresentMatch:
      // Envoy releases disagree (older ones treat false as a presence match, newer ones as an
      // absence match, behind a runtime flag): refuse rather than guess.
      if (!q.present_match()) {
        return error(fieldPath(path, "present_match"),
                     "false is not supported by remora (its meaning differs between Envoy "
                     "releases)");
      }
      out.present_only = true;
      break;
    default:
      out.present_only = true;  // Envoy: only a name is a presence match
      break;
  }
  return out;
}

absl::StatusOr<config::RouteMatchConfig> translateRouteMatch(const RouteMatch& m,
                                                             const std::string& path,
                                                             TranslateNotes* notes) {
  if (auto s = checkFields(m, path,
                           {"prefix", "path", "safe_regex", "path_separated_prefix",
                            "case_sensitive", "headers", "query_parameters", "grpc"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  config::RouteMatchConfig out;
  using K = config::RouteMatchConfig::PathKind;
  switch (m.path_specifier_case()) {
    case RouteMatch::kPrefix:
      out.path_kind = K::Prefix;
      out.path = m.prefix();
      break;
    case RouteMatch::kPath:
      out.path_kind = K::Path;
      out.path = m.path();
      break;
    case RouteMatch::kSafeRegex: {
      auto re = translateRegex(m.safe_regex(), fieldPath(path, "safe_regex"), notes);
      if (!re.ok()) return re.status();
      out.path_kind = K::Regex;
      out.path = *re;
      break;
    }
    case RouteMatch::kPathSeparatedPrefix: {
      // Envoy's rule: ^[^?#]+[^?#/]$ (no query or fragment, no trailing '/').
      const std::string& p = m.path_separated_prefix();
      if (p.size() < 2 || p.find_first_of("?#") != std::string::npos || p.back() == '/') {
        return error(fieldPath(path, "path_separated_prefix"),
                     cat("'", p, "' must not contain '?' or '#' nor end in '/'"));
      }
      out.path_kind = K::PathSeparatedPrefix;
      out.path = p;
      break;
    }
    default:
      return error(path, "needs one of prefix, path, safe_regex or path_separated_prefix");
  }
  if (out.path_kind != K::Regex) {
    if (auto s = checkHeaderValue(out.path, path); !s.ok()) return s;
  }
  out.case_sensitive = !m.has_case_sensitive() || m.case_sensitive().value();
  for (int i = 0; i < m.headers_size(); ++i) {
    auto h = translateHeaderMatcher(m.headers(i),
                                    indexPath(path, "headers", static_cast<size_t>(i)), notes);
    if (!h.ok()) return h.status();
    out.headers.push_back(*h);
  }
  for (int i = 0; i < m.query_parameters_size(); ++i) {
    auto q = translateQueryMatcher(
        m.query_parameters(i), indexPath(path, "query_parameters", static_cast<size_t>(i)), notes);
    if (!q.ok()) return q.status();
    out.query_parameters.push_back(*q);
  }
  if (m.has_grpc()) {
    if (auto s = checkFields(m.grpc(), fieldPath(path, "grpc"), {}, {}, notes); !s.ok()) return s;
    out.grpc_only = true;
  }
  return out;
}

// --- Retries and hashing ---

struct RetryOnName {
  std::string_view name;
  uint32_t bit;
};
using RetryOn = config::RetryPolicyConfig;
// Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on conditions that remora implements
// (retriable-headers needs retriable_headers, which is not implemented).
constexpr RetryOnName kRetryOn[] = {
    {"5xx", RetryOn::k5xx},
    {"gateway-error", RetryOn::kGatewayError},
    {"reset", RetryOn::kReset},
    {"reset-before-request", RetryOn::kResetBeforeRequest},
    {"connect-failure", RetryOn::kConnectFailure},
    {"retriable-4xx", RetryOn::kRetriable4xx},
    {"refused-stream", RetryOn::kRefusedStream},
    {"retriable-status-codes", RetryOn::kRetriableStatusCodes},
    {"envoy-ratelimited", RetryOn::kEnvoyRateLimited},
    {"http3-post-connect-failure", RetryOn::kHttp3PostConnectFailure},
    {"cancelled", RetryOn::kGrpcCancelled},
    {"deadline-exceeded", RetryOn::kGrpcDeadlineExceeded},
    {"internal", RetryOn::kGrpcInternal},
    {"resource-exhausted", RetryOn::kGrpcResourceExhausted},
    {"unavailable", RetryOn::kGrpcUnavailable},
};
constexpr std::string_view kPreviousHosts = "envoy.retry_host_predicates.previous_hosts";
constexpr std::string_view kPreviousHostsType =
    "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";

std::string_view trimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A per-try timeout of 0 is none (Envoy's reading).
absl::StatusOr<std::optional<config::Duration>> optionalTimeout(const google::protobuf::Duration& d,
                                                                const std::string& path) {
  auto v = duration(d, path);
  if (!v.ok()) return v.status();
  if (v->count() == 0) return std::optional<config::Duration>();
  return std::optional<config::Duration>(*v);
}

absl::StatusOr<config::RetryPolicyConfig> translateRetryPolicy(
    const envoy::config::route::v3::RetryPolicy& r, const std::string& path,
    TranslateNotes* notes) {
  // retry_priority, retry_options_predicates, retriable_headers, retriable_request_headers and
  // rate_limited_retry_back_off are not implemented.
  if (auto s = checkFields(r, path,
                           {"retry_on", "num_retries", "per_try_timeout", "per_try_idle_timeout",
                            "retry_host_predicate", "host_selection_retry_max_attempts",
                            "retriable_status_codes", "retry_back_off"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  config::RetryPolicyConfig out;
  std::string opath = fieldPath(path, "retry_on");
  for (std::string_view part : split(r.retry_on(), ',')) {
    std::string_view name = trimSpaces(part);
    if (name.empty()) continue;
    const RetryOnName* found = nullptr;
    for (const auto& k : kRetryOn) {
      if (k.name == name) found = &k;
    }
    if (found == nullptr) {
      return error(opath, cat("'", name, "' is not a retry condition remora implements"));
    }
    // Without HTTP/3 upstreams it never applies.
    if (found->bit == RetryOn::kHttp3PostConnectFailure && notes != nullptr)
      notes->ignored.push_back(cat(opath, " (", name, ")"));
    out.retry_on |= found->bit;
  }
  if (r.has_num_retries()) out.num_retries = r.num_retries().value();
  if (r.has_per_try_timeout()) {
    auto d = optionalTimeout(r.per_try_timeout(), fieldPath(path, "per_try_timeout"));
    if (!d.ok()) return d.status();
    out.per_try_timeout = *d;
  }
  if (r.has_per_try_idle_timeout()) {
    auto d = optionalTimeout(r.per_try_idle_timeout(), fieldPath(path, "per_try_idle_timeout"));
    if (!d.ok()) return d.status();
    out.per_try_idle_timeout = *d;
  }
  if (r.has_retry_back_off()) {
    const auto& b = r.retry_back_off();
    std::string bpath = fieldPath(path, "retry_back_off");
    if (auto s = checkFields(b, bpath, {"base_interval", "max_interval"}, {}, notes); !s.ok())
      return s;
    std::string basepath = fieldPath(bpath, "base_interval");
    if (!b.has_base_interval()) return error(basepath, "is required");
    auto base = duration(b.base_interval(), basepath);
    if (!base.ok()) return base.status();
    if (b.base_interval().seconds() == 0 && b.base_interval().nanos() == 0)
      return error(basepath, "must be positive");
    out.base_interval = std::max(*base, config::Duration(1));  // Envoy rounds up to 1 ms
    out.max_interval = out.base_interval * 10;
    if (b.has_max_interval()) {
      std::string maxpath = fieldPath(bpath, "max_interval");
      auto max = duration(b.max_interval(), maxpath);
      if (!max.ok()) return max.status();
      if (b.max_interval().seconds() == 0 && b.max_interval().nanos() == 0)
        return error(maxpath, "must be positive");
      if (*max < out.base_interval) {
        return error(maxpath, cat(max->count(), "ms is less than base_interval (",
                                  out.base_interval.count(), "ms)"));
      }
      out.max_interval = *max;
    }
  }
  for (uint32_t code : r.retriable_status_codes()) out.retriable_status_codes.push_back(code);
  for (int i = 0; i < r.retry_host_predicate_size(); ++i) {
    const auto& p = r.retry_host_predicate(i);
    std::string ppath = indexPath(path, "retry_host_predicate", static_cast<size_t>(i));
    if (auto s = checkFields(p, ppath, {"name", "typed_config"}, {}, notes); !s.ok()) return s;
    // Envoy identifies an extension by its config's type, else by name. PreviousHostsPredicate
    // has no fields.
    bool previous_hosts = false;
    if (p.has_typed_config()) {
      std::string_view url = p.typed_config().type_url();
      previous_hosts =
          url.substr(url.rfind('/') + 1) == kPreviousHostsType && p.typed_config().value().empty();
    } else {
      previous_hosts = p.name() == kPreviousHosts;
    }
    if (!previous_hosts) {
      std::string what = p.has_typed_config() ? describeAny(p.typed_config()) : p.name();
      return error(ppath, cat("'", what, "' is not supported by remora (", kPreviousHosts,
                              " with an empty config is)"));
    }
    out.previous_hosts_predicate = true;
  }
  // int64 without presence: 0 is unset, which Envoy documents as retrying once.
  int64_t attempts = r.host_selection_retry_max_attempts();
  if (attempts < 0) {
    return error(fieldPath(path, "host_selection_retry_max_attempts"),
                 cat(attempts, " is negative"));
  }
  if (attempts > 0) {
    out.host_selection_retry_max_attempts =
        static_cast<uint32_t>(std::min<int64_t>(attempts, std::numeric_limits<uint32_t>::max()));
  }
  return out;
}

// One hash_policy entry; nullopt when it never produces a hash (connection_properties without
// source_ip, as Envoy reads it).
absl::StatusOr<std::optional<config::HashPolicyConfig>> translateHashPolicy(
    const RouteAction::HashPolicy& h, const std::string& path, TranslateNotes* notes) {
  using H = RouteAction::HashPolicy;
  // filter_state is not implemented.
  if (auto s = checkFields(
          h, path, {"header", "cookie", "connection_properties", "query_parameter", "terminal"}, {},
          notes);
      !s.ok()) {
    return s;
  }
  config::HashPolicyConfig out;
  out.terminal = h.terminal();
  switch (h.policy_specifier_case()) {
    case H::kHeader: {
      std::string p = fieldPath(path, "header");
      // regex_rewrite (hashing a rewritten value) is not implemented.
      if (auto s = checkFields(h.header(), p, {"header_name"}, {}, notes); !s.ok()) return s;
      if (auto s = checkHeaderName(h.header().header_name(), fieldPath(p, "header_name"));
          !s.ok()) {
        return s;
      }
      out.kind = config::HashPolicyConfig::Kind::Header;
      out.name = lower(h.header().header_name());
      break;
    }
    case H::kCookie: {
      const auto& c = h.cookie();
      std::string p = fieldPath(path, "cookie");
      // With a ttl Envoy generates the cookie when it is missing: not implemented. Without one,
      // path and attributes (the generated cookie's) change nothing.
      if (c.has_ttl()) {
        return error(fieldPath(p, "ttl"),
                     "generating the cookie (a ttl) is not supported by remora");
      }
      if (auto s = checkFields(c, p, {"name"}, {"path", "attributes"}, notes); !s.ok()) return s;
      if (c.name().empty()) return error(fieldPath(p, "name"), "must not be empty");
      out.kind = config::HashPolicyConfig::Kind::Cookie;
      out.name = c.name();
      break;
    }
    case H::kConnectionProperties: {
      std::string p = fieldPath(path, "connection_properties");
      if (auto s = checkFields(h.connection_properties(), p, {"source_ip"}, {}, notes); !s.ok())
        return s;
      if (!h.connection_properties().source_ip()) return std::optional<config::HashPolicyConfig>();
      out.kind = config::HashPolicyConfig::Kind::SourceIp;
      break;
    }
    case H::kQueryParameter: {
      std::string p = fieldPath(path, "query_parameter");
      if (auto s = checkFields(h.query_parameter(), p, {"name"}, {}, notes); !s.ok()) return s;
      if (h.query_parameter().name().empty())
        return error(fieldPath(p, "name"), "must not be empty");
      out.kind = config::HashPolicyConfig::Kind::QueryParameter;
      out.name = h.query_parameter().name();
      break;
    }
    default:
      return error(path, "needs one of header, cookie, connection_properties or query_parameter");
  }
  return std::optional<config::HashPolicyConfig>(std::move(out));
}

// --- Route actions ---

absl::Status translateWeightedClusters(const WeightedCluster& w, const std::string& path,
                                       config::RouteActionConfig* out, TranslateNotes* notes) {
  // total_weight is deprecated: Envoy uses the sum of the weights.
  if (auto s = checkFields(w, path, {"clusters", "total_weight"}, {}, notes); !s.ok()) return s;
  if (w.clusters_size() == 0)
    return error(fieldPath(path, "clusters"), "needs at least one cluster");
  uint64_t sum = 0;
  for (int i = 0; i < w.clusters_size(); ++i) {
    const auto& c = w.clusters(i);
    std::string cpath = indexPath(path, "clusters", static_cast<size_t>(i));
    if (auto s =
            checkFields(c, cpath,
                        {"name", "weight", "request_headers_to_add", "request_headers_to_remove",
                         "response_headers_to_add", "response_headers_to_remove"},
                        {}, notes);
        !s.ok()) {
      return s;
    }
    config::RouteWeightedCluster rc;
    if (c.name().empty()) return error(fieldPath(cpath, "name"), "must not be empty");
    rc.name = c.name();
    rc.weight = c.has_weight() ? c.weight().value() : 0;  // Envoy: unset weighs 0
    sum += rc.weight;
    auto m = translateMutations(c, cpath, notes);
    if (!m.ok()) return m.status();
    rc.headers = *m;
    out->weighted_clusters.push_back(std::move(rc));
  }
  if (sum == 0) return error(fieldPath(path, "clusters"), "the sum of the weights must be above 0");
  if (sum > std::numeric_limits<uint32_t>::max()) {
    return error(fieldPath(path, "clusters"), cat("the sum of the weights, ", sum, ", exceeds ",
                                                  std::numeric_limits<uint32_t>::max()));
  }
  return absl::OkStatus();
}

absl::StatusOr<config::RouteActionConfig> translateRouteAction(const RouteAction& a,
                                                               const std::string& path,
                                                               TranslateNotes* notes) {
  // Everything else (request_mirror_policies, rate_limits, cors, hedge_policy,
  // retry_policy_typed_config, max_stream_duration, upgrade_configs, metadata_match,
  // cluster_not_found_response_code other than 503, append_x_forwarded_host ...) is refused.
  if (auto s = checkFields(a, path,
                           {"cluster", "cluster_header", "weighted_clusters", "prefix_rewrite",
                            "regex_rewrite", "host_rewrite_literal", "auto_host_rewrite",
                            "host_rewrite_header", "host_rewrite_path_regex", "timeout",
                            "idle_timeout", "retry_policy", "hash_policy", "priority"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  config::RouteActionConfig out;
  switch (a.cluster_specifier_case()) {
    case RouteAction::kCluster:
      if (a.cluster().empty()) return error(fieldPath(path, "cluster"), "must not be empty");
      out.cluster = a.cluster();
      break;
    case RouteAction::kClusterHeader:
      if (auto s = checkHeaderName(a.cluster_header(), fieldPath(path, "cluster_header"));
          !s.ok()) {
        return s;
      }
      out.cluster_header = lower(a.cluster_header());
      break;
    case RouteAction::kWeightedClusters:
      if (auto s = translateWeightedClusters(a.weighted_clusters(),
                                             fieldPath(path, "weighted_clusters"), &out, notes);
          !s.ok()) {
        return s;
      }
      break;
    default:
      return error(path, "needs one of cluster, cluster_header or weighted_clusters");
  }
  if (!a.prefix_rewrite().empty() && a.has_regex_rewrite()) {
    return error(path, "only one of prefix_rewrite or regex_rewrite may be specified");
  }
  if (auto s = checkHeaderValue(a.prefix_rewrite(), fieldPath(path, "prefix_rewrite")); !s.ok())
    return s;
  out.prefix_rewrite = a.prefix_rewrite();
  if (a.has_regex_rewrite()) {
    auto r = translateRegexRewrite(a.regex_rewrite(), fieldPath(path, "regex_rewrite"), notes);
    if (!r.ok()) return r.status();
    out.regex_rewrite = *r;
  }
  switch (a.host_rewrite_specifier_case()) {
    case RouteAction::kHostRewriteLiteral:
      if (auto s =
              checkHeaderValue(a.host_rewrite_literal(), fieldPath(path, "host_rewrite_literal"));
          !s.ok()) {
        return s;
      }
      out.host_rewrite_literal = a.host_rewrite_literal();
      break;
    case RouteAction::kAutoHostRewrite:
      out.auto_host_rewrite = a.auto_host_rewrite().value();
      break;
    case RouteAction::kHostRewriteHeader:
      if (auto s = checkHeaderName(a.host_rewrite_header(), fieldPath(path, "host_rewrite_header"));
          !s.ok()) {
        return s;
      }
      out.host_rewrite_header = lower(a.host_rewrite_header());
      break;
    case RouteAction::kHostRewritePathRegex: {
      auto r = translateRegexRewrite(a.host_rewrite_path_regex(),
                                     fieldPath(path, "host_rewrite_path_regex"), notes);
      if (!r.ok()) return r.status();
      out.host_rewrite_path_regex = *r;
      break;
    }
    default:
      break;
  }
  if (a.has_timeout()) {
    auto d = duration(a.timeout(), fieldPath(path, "timeout"));
    if (!d.ok()) return d.status();
    out.timeout = *d;  // 0 disables it, as in Envoy
  }
  if (a.has_idle_timeout()) {
    auto d = duration(a.idle_timeout(), fieldPath(path, "idle_timeout"));
    if (!d.ok()) return d.status();
    out.idle_timeout = *d;  // 0 disables the stream idle timeout for this route
  }
  if (a.has_retry_policy()) {
    auto r = translateRetryPolicy(a.retry_policy(), fieldPath(path, "retry_policy"), notes);
    if (!r.ok()) return r.status();
    out.retry_policy = *r;
  }
  for (int i = 0; i < a.hash_policy_size(); ++i) {
    auto h = translateHashPolicy(a.hash_policy(i),
                                 indexPath(path, "hash_policy", static_cast<size_t>(i)), notes);
    if (!h.ok()) return h.status();
    if (*h) out.hash_policy.push_back(**h);
  }
  switch (a.priority()) {
    case envoy::config::core::v3::DEFAULT:
      break;
    case envoy::config::core::v3::HIGH:
      out.high_priority = true;
      break;
    default:
      return error(fieldPath(path, "priority"), "unknown value");
  }
  return out;
}

absl::StatusOr<config::RedirectConfig> translateRedirect(const RedirectAction& r,
                                                         const std::string& path,
                                                         TranslateNotes* notes) {
  if (auto s = checkFields(
          r, path,
          {"https_redirect", "scheme_redirect", "host_redirect", "port_redirect", "path_redirect",
           "prefix_rewrite", "regex_rewrite", "response_code", "strip_query"},
          {}, notes);
      !s.ok()) {
    return s;
  }
  config::RedirectConfig out;
  out.https_redirect =
      r.scheme_rewrite_specifier_case() == RedirectAction::kHttpsRedirect && r.https_redirect();
  if (r.scheme_rewrite_specifier_case() == RedirectAction::kSchemeRedirect) {
    if (auto s = checkHeaderValue(r.scheme_redirect(), fieldPath(path, "scheme_redirect"));
        !s.ok()) {
      return s;
    }
    out.scheme_redirect = r.scheme_redirect();
  }
  if (auto s = checkHeaderValue(r.host_redirect(), fieldPath(path, "host_redirect")); !s.ok())
    return s;
  out.host_redirect = r.host_redirect();
  if (r.port_redirect() > 65535) {
    return error(fieldPath(path, "port_redirect"), cat(r.port_redirect(), " is not a port"));
  }
  out.port_redirect = r.port_redirect();
  switch (r.path_rewrite_specifier_case()) {
    case RedirectAction::kPathRedirect:
      if (auto s = checkHeaderValue(r.path_redirect(), fieldPath(path, "path_redirect")); !s.ok()) {
        return s;
      }
      out.path_redirect = r.path_redirect();
      break;
    case RedirectAction::kPrefixRewrite:
      if (auto s = checkHeaderValue(r.prefix_rewrite(), fieldPath(path, "prefix_rewrite"));
          !s.ok()) {
        return s;
      }
      out.prefix_rewrite = r.prefix_rewrite();
      break;
    case RedirectAction::kRegexRewrite: {
      auto rr = translateRegexRewrite(r.regex_rewrite(), fieldPath(path, "regex_rewrite"), notes);
      if (!rr.ok()) return rr.status();
      out.regex_rewrite = *rr;
      break;
    }
    default:
      break;
  }
  switch (r.response_code()) {
    case RedirectAction::MOVED_PERMANENTLY:
      out.response_code = 301;
      break;
    case RedirectAction::FOUND:
      out.response_code = 302;
      break;
    case RedirectAction::SEE_OTHER:
      out.response_code = 303;
      break;
    case RedirectAction::TEMPORARY_REDIRECT:
      out.response_code = 307;
      break;
    case RedirectAction::PERMANENT_REDIRECT:
      out.response_code = 308;
      break;
    default:
      return error(fieldPath(path, "response_code"), "unknown value");
  }
  out.strip_query = r.strip_query();
  return out;
}

absl::StatusOr<config::DirectResponseConfig> translateDirectResponse(
    const envoy::config::route::v3::DirectResponseAction& d, const std::string& path,
    uint32_t max_body, TranslateNotes* notes) {
  if (auto s = checkFields(d, path, {"status", "body"}, {}, notes); !s.ok()) return s;
  config::DirectResponseConfig out;
  if (d.status() < 200 || d.status() > 599) {
    return error(fieldPath(path, "status"), cat(d.status(), " is not in [200, 600)"));
  }
  out.status = d.status();
  if (d.has_body()) {
    std::string bpath = fieldPath(path, "body");
    // A body from a file or the environment would be read at load time; not supported.
    if (auto s = checkFields(d.body(), bpath, {"inline_string", "inline_bytes"}, {}, notes);
        !s.ok()) {
      return s;
    }
    out.body = d.body().inline_bytes().empty() ? d.body().inline_string() : d.body().inline_bytes();
    if (out.body.size() > max_body) {
      return error(bpath, cat("response body size is ", out.body.size(), " bytes; maximum is ",
                              max_body, " (max_direct_response_body_size_bytes)"));
    }
  }
  return out;
}

// What a virtual host gives the route actions under it.
struct VirtualHostDefaults {
  std::optional<config::RetryPolicyConfig> retry_policy;   // for routes without their own
  std::optional<uint32_t> per_request_buffer_limit_bytes;  // likewise
  bool include_request_attempt_count = false;
  bool include_attempt_count_in_response = false;
};

absl::StatusOr<config::RouteConfigEntry> translateRoute(const Route& r, const std::string& path,
                                                        uint32_t max_body,
                                                        const VirtualHostDefaults& vh,
                                                        TranslateNotes* notes) {
  // decorator and tracing only shape spans; stat_prefix only names stats; metadata is opaque.
  if (auto s = checkFields(
          r, path,
          {"name", "match", "route", "redirect", "direct_response", "request_headers_to_add",
           "request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove",
           "per_request_buffer_limit_bytes"},
          {"metadata", "decorator", "tracing", "stat_prefix"}, notes);
      !s.ok()) {
    return s;
  }
  config::RouteConfigEntry out;
  out.name = r.name();
  if (!r.has_match()) return error(fieldPath(path, "match"), "is required");
  auto m = translateRouteMatch(r.match(), fieldPath(path, "match"), notes);
  if (!m.ok()) return m.status();
  out.match = *m;
  switch (r.action_case()) {
    case Route::kRoute: {
      auto a = translateRouteAction(r.route(), fieldPath(path, "route"), notes);
      if (!a.ok()) return a.status();
      out.kind = config::RouteConfigEntry::Kind::Route;
      out.route = *a;
      // The route's own retry policy and buffer limit win over the virtual host's.
      if (!out.route.retry_policy) out.route.retry_policy = vh.retry_policy;
      if (r.has_per_request_buffer_limit_bytes()) {
        out.route.retry_buffer_limit = r.per_request_buffer_limit_bytes().value();
      } else if (vh.per_request_buffer_limit_bytes) {
        out.route.retry_buffer_limit = *vh.per_request_buffer_limit_bytes;
      }
      out.route.include_request_attempt_count = vh.include_request_attempt_count;
      out.route.include_attempt_count_in_response = vh.include_attempt_count_in_response;
      break;
    }
    case Route::kRedirect: {
      auto rd = translateRedirect(r.redirect(), fieldPath(path, "redirect"), notes);
      if (!rd.ok()) return rd.status();
      out.kind = config::RouteConfigEntry::Kind::Redirect;
      out.redirect = *rd;
      break;
    }
    case Route::kDirectResponse: {
      auto dr = translateDirectResponse(r.direct_response(), fieldPath(path, "direct_response"),
                                        max_body, notes);
      if (!dr.ok()) return dr.status();
      out.kind = config::RouteConfigEntry::Kind::DirectResponse;
      out.direct_response = *dr;
      break;
    }
    default:
      return error(path, "needs one of route, redirect or direct_response");
  }
  auto h = translateMutations(r, path, notes);
  if (!h.ok()) return h.status();
  out.headers = *h;
  return out;
}

absl::StatusOr<config::VirtualHostConfig> translateVirtualHost(const VirtualHost& v,
                                                               const std::string& path,
                                                               uint32_t max_body,
                                                               TranslateNotes* notes) {
  // virtual_clusters only name request stats. require_tls other than NONE, rate_limits, cors,
  // retry_policy_typed_config, hedge_policy, include_is_timeout_retry_header and mirrors are
  // refused.
  if (auto s = checkFields(
          v, path,
          {"name", "domains", "routes", "request_headers_to_add", "request_headers_to_remove",
           "response_headers_to_add", "response_headers_to_remove", "retry_policy",
           "include_request_attempt_count", "include_attempt_count_in_response",
           "per_request_buffer_limit_bytes"},
          {"virtual_clusters", "metadata"}, notes);
      !s.ok()) {
    return s;
  }
  VirtualHostDefaults vh;
  if (v.has_retry_policy()) {
    auto rp = translateRetryPolicy(v.retry_policy(), fieldPath(path, "retry_policy"), notes);
    if (!rp.ok()) return rp.status();
    vh.retry_policy = *rp;
  }
  if (v.has_per_request_buffer_limit_bytes())
    vh.per_request_buffer_limit_bytes = v.per_request_buffer_limit_bytes().value();
  vh.include_request_attempt_count = v.include_request_attempt_count();
  vh.include_attempt_count_in_response = v.include_attempt_count_in_response();
  config::VirtualHostConfig out;
  if (v.name().empty()) return error(fieldPath(path, "name"), "must not be empty");
  out.name = v.name();
  if (v.domains_size() == 0) return error(fieldPath(path, "domains"), "needs at least one domain");
  for (int i = 0; i < v.domains_size(); ++i) {
    std::string dpath = indexPath(path, "domains", static_cast<size_t>(i));
    if (auto s = checkHeaderValue(v.domains(i), dpath); !s.ok()) return s;
    out.domains.push_back(lower(v.domains(i)));
  }
  for (int i = 0; i < v.routes_size(); ++i) {
    auto r = translateRoute(v.routes(i), indexPath(path, "routes", static_cast<size_t>(i)),
                            max_body, vh, notes);
    if (!r.ok()) return r.status();
    out.routes.push_back(std::move(*r));
  }
  auto h = translateMutations(v, path, notes);
  if (!h.ok()) return h.status();
  out.headers = *h;
  return out;
}

// Envoy's rules: one "*" per route configuration; every other domain unique across virtual
// hosts (compared lower-cased, wildcards by their literal part).
absl::Status checkDomains(const config::RouteTableConfig& rc, const std::string& path) {
  std::map<std::string, std::string> seen;  // "kind:domain" -> virtual host
  std::string star_owner;
  for (size_t i = 0; i < rc.virtual_hosts.size(); ++i) {
    const auto& vh = rc.virtual_hosts[i];
    std::string vpath = indexPath(path, "virtual_hosts", i);
    for (size_t j = 0; j < vh.domains.size(); ++j) {
      const std::string& d = vh.domains[j];
      std::string dpath = indexPath(vpath, "domains", j);
      if (d == "*") {
        if (!star_owner.empty()) {
          return error(dpath, cat("only a single wildcard domain '*' is permitted in a route "
                                  "configuration (virtual host '",
                                  star_owner, "' has one)"));
        }
        star_owner = vh.name;
        continue;
      }
      std::string key;
      if (!d.empty() && d.front() == '*') {
        key = cat("suffix:", std::string_view(d).substr(1));
      } else if (!d.empty() && d.back() == '*') {
        key = cat("prefix:", std::string_view(d).substr(0, d.size() - 1));
      } else {
        key = cat("exact:", d);
      }
      auto [it, inserted] = seen.emplace(key, vh.name);
      if (!inserted) {
        return error(dpath, cat("duplicate domain '", d, "' (also in virtual host '", it->second,
                                "'); Envoy requires unique domains"));
      }
    }
  }
  return absl::OkStatus();
}

// --- Access logs ---

absl::Status translateFormat(const envoy::config::core::v3::SubstitutionFormatString& f,
                             const std::string& path, config::AccessLogConfig* out,
                             TranslateNotes* notes) {
  using F = envoy::config::core::v3::SubstitutionFormatString;
  // omit_empty_values, content_type and json_format_options only shape log output; custom
  // formatters (extensions) are refused.
  if (auto s = checkFields(f, path, {"text_format", "json_format", "text_format_source"},
                           {"omit_empty_values", "content_type", "json_format_options"}, notes);
      !s.ok()) {
    return s;
  }
  switch (f.format_case()) {
    case F::kTextFormat:
      out->text_format = f.text_format();
      return absl::OkStatus();
    case F::kTextFormatSource: {
      std::string dpath = fieldPath(path, "text_format_source");
      if (auto s = checkFields(f.text_format_source(), dpath, {"inline_string", "inline_bytes"}, {},
                               notes);
          !s.ok()) {
        return s;
      }
      const auto& ds = f.text_format_source();
      out->text_format = ds.inline_bytes().empty() ? ds.inline_string() : ds.inline_bytes();
      return absl::OkStatus();
    }
    case F::kJsonFormat:
      break;
    default:
      return error(path, "needs one of text_format, text_format_source or json_format");
  }
  std::string jpath = fieldPath(path, "json_format");
  // A Struct is a map: its order is not kept, so keys come out sorted.
  std::map<std::string, std::string> sorted;
  for (const auto& [key, value] : f.json_format().fields()) {
    if (value.kind_case() != google::protobuf::Value::kStringValue) {
      return error(cat(jpath, ".", key),
                   "only string values are supported by remora (not nested objects, lists, "
                   "numbers or booleans)");
    }
    sorted.emplace(key, value.string_value());
  }
  out->json_format.assign(sorted.begin(), sorted.end());
  return absl::OkStatus();
}

absl::StatusOr<config::AccessLogConfig> translateAccessLog(
    const envoy::config::accesslog::v3::AccessLog& a, const std::string& path,
    TranslateNotes* notes) {
  // `filter` decides which requests are logged: refused until implemented.
  if (auto s = checkFields(a, path, {"name", "typed_config"}, {}, notes); !s.ok()) return s;
  if (!a.has_typed_config())
    return error(path, cat("access log '", a.name(), "' has no typed_config"));
  const auto& any = a.typed_config();
  std::string tpath = fieldPath(path, "typed_config");
  config::AccessLogConfig out;
  if (any.Is<FileAccessLogProto>()) {
    FileAccessLogProto f;
    if (!any.UnpackTo(&f)) return error(tpath, "cannot decode FileAccessLog");
    if (auto s = checkFields(f, tpath, {"path", "format", "json_format", "log_format"}, {}, notes);
        !s.ok()) {
      return s;
    }
    if (f.path().empty()) return error(fieldPath(tpath, "path"), "must not be empty");
    out.path = f.path();
    switch (f.access_log_format_case()) {
      case FileAccessLogProto::kFormat:
        out.text_format = f.format();
        break;
      case FileAccessLogProto::kJsonFormat: {
        // The deprecated json_format is the same Struct as log_format.json_format.
        envoy::config::core::v3::SubstitutionFormatString sf;
        *sf.mutable_json_format() = f.json_format();
        std::string jpath = fieldPath(tpath, "json_format");
        for (const auto& [key, value] : f.json_format().fields()) {
          if (value.kind_case() != google::protobuf::Value::kStringValue) {
            return error(cat(jpath, ".", key),
                         "only string values are supported by remora (not nested objects, lists, "
                         "numbers or booleans)");
          }
        }
        if (auto s = translateFormat(sf, tpath, &out, notes); !s.ok()) return s;
        break;
      }
      case FileAccessLogProto::kLogFormat:
        if (auto s = translateFormat(f.log_format(), fieldPath(tpath, "log_format"), &out, notes);
            !s.ok()) {
          return s;
        }
        break;
      default:
        break;  // Envoy's default format
    }
    return out;
  }
  auto stream = [&](const auto& s, const char* dev) -> absl::StatusOr<config::AccessLogConfig> {
    if (auto st = checkFields(s, tpath, {"log_format"}, {}, notes); !st.ok()) return st;
    out.path = dev;
    if (s.has_log_format()) {
      if (auto st = translateFormat(s.log_format(), fieldPath(tpath, "log_format"), &out, notes);
          !st.ok()) {
        return st;
      }
    }
    return out;
  };
  if (any.Is<StdoutAccessLogProto>()) {
    StdoutAccessLogProto s;
    if (!any.UnpackTo(&s)) return error(tpath, "cannot decode StdoutAccessLog");
    return stream(s, "/dev/stdout");
  }
  if (any.Is<StderrAccessLogProto>()) {
    StderrAccessLogProto s;
    if (!any.UnpackTo(&s)) return error(tpath, "cannot decode StderrAccessLog");
    return stream(s, "/dev/stderr");
  }
  return error(path, cat("access logger '", a.name(), "' (", describeAny(any),
                         ") is not one remora implements (file, stdout and stderr are)"));
}

// --- The connection manager ---

absl::Status translateHttpFilters(const Hcm& h, const std::string& path,
                                  config::HttpConnectionManagerConfig* out, TranslateNotes* notes) {
  std::string fpath = fieldPath(path, "http_filters");
  int router_at = -1;
  for (int i = 0; i < h.http_filters_size(); ++i) {
    const auto& f = h.http_filters(i);
    std::string ipath = indexPath(path, "http_filters", static_cast<size_t>(i));
    if (f.name().empty()) return error(fieldPath(ipath, "name"), "must not be empty");
    bool is_router = f.has_typed_config() && f.typed_config().Is<RouterProto>();
    if (f.has_typed_config() && f.typed_config().Is<HttpRbacProto>()) {
      if (auto s = checkFields(f, ipath, {"name", "typed_config", "is_optional"}, {}, notes);
          !s.ok()) {
        return s;
      }
      if (router_at >= 0) {
        return error(ipath, cat("'", f.name(), "' follows the router (http_filters[", router_at,
                                "]), which must be the last filter"));
      }
      HttpRbacProto r;
      std::string tpath = fieldPath(ipath, "typed_config");
      if (!f.typed_config().UnpackTo(&r)) return error(tpath, "cannot decode RBAC");
      auto rbac = translateHttpRbac(r, tpath, notes);
      if (!rbac.ok()) return rbac.status();
      out->http_filters.push_back({std::string(kRbac), std::move(*rbac)});
      continue;
    }
    if (!is_router) {
      if (f.is_optional()) {
        // Envoy skips an optional filter it does not know; so does remora, and says so.
        if (notes != nullptr)
          notes->ignored.push_back(cat(ipath, " (optional filter '", f.name(), "')"));
        continue;
      }
      std::string what = f.has_typed_config()       ? describeAny(f.typed_config())
                         : f.has_config_discovery() ? std::string("config_discovery")
                                                    : std::string("no typed_config");
      return error(ipath,
                   cat("HTTP filter '", f.name(), "' (", what, ") is not one remora implements (",
                       kRbac, " and ", kRouter, " are)"));
    }
    // `disabled` and config_discovery are refused by the field check.
    if (auto s = checkFields(f, ipath, {"name", "typed_config", "is_optional"}, {}, notes); !s.ok())
      return s;
    RouterProto r;
    std::string tpath = fieldPath(ipath, "typed_config");
    if (!f.typed_config().UnpackTo(&r)) return error(tpath, "cannot decode Router");
    // Observability only: stats, child spans and upstream access logs. suppress_envoy_headers,
    // strict_check_headers, respect_expected_rq_timeout and upstream_http_filters change
    // behaviour and are refused.
    if (auto s = checkFields(r, tpath, {},
                             {"dynamic_stats", "start_child_span", "upstream_log",
                              "upstream_log_options", "suppress_grpc_request_failure_code_stats"},
                             notes);
        !s.ok()) {
      return s;
    }
    if (router_at >= 0) {
      return error(
          ipath, cat("a second ", kRouter, " filter (the first is http_filters[", router_at, "])"));
    }
    router_at = i;
    out->http_filters.push_back({std::string(kRouter)});
  }
  if (router_at < 0) {
    return error(fpath, cat("the router filter (", kRouter, ") is required, last"));
  }
  // Only skipped optional filters can follow the router (anything else failed above), and
  // they are not in the chain: the router is last.
  return absl::OkStatus();
}

absl::Status translateProtocolOptions(const Hcm& h, const std::string& path,
                                      config::HttpConnectionManagerConfig* out,
                                      TranslateNotes* notes) {
  if (h.has_common_http_protocol_options()) {
    const auto& o = h.common_http_protocol_options();
    std::string opath = fieldPath(path, "common_http_protocol_options");
    // headers_with_underscores_action other than ALLOW, max_connection_duration and
    // max_requests_per_connection are refused by the field check.
    if (auto s = checkFields(o, opath, {"idle_timeout", "max_headers_count", "max_stream_duration"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    if (o.has_idle_timeout()) {
      auto d = duration(o.idle_timeout(), fieldPath(opath, "idle_timeout"));
      if (!d.ok()) return d.status();
      out->idle_timeout = *d;  // 0 disables
    }
    if (o.has_max_headers_count()) {
      if (o.max_headers_count().value() < 1)
        return error(fieldPath(opath, "max_headers_count"), "must be at least 1");
      out->max_headers_count = o.max_headers_count().value();
    }
    if (o.has_max_stream_duration()) {
      auto d = duration(o.max_stream_duration(), fieldPath(opath, "max_stream_duration"));
      if (!d.ok()) return d.status();
      // Envoy: 0 means no limit.
      if (d->count() > 0) out->max_stream_duration = *d;
    }
  }
  if (h.has_http_protocol_options()) {
    const auto& o = h.http_protocol_options();
    std::string opath = fieldPath(path, "http_protocol_options");
    // Only Envoy's defaults: accept_http_10, allow_chunked_length, enable_trailers,
    // header_key_format, default_host_for_http_10, ... are refused by the field check.
    if (auto s = checkFields(
            o, opath, {"allow_absolute_url", "override_stream_error_on_invalid_http_message"}, {},
            notes);
        !s.ok()) {
      return s;
    }
    if (o.has_allow_absolute_url() && !o.allow_absolute_url().value()) {
      return error(fieldPath(opath, "allow_absolute_url"),
                   "false is not supported by remora (absolute-form requests are accepted, as "
                   "by Envoy's default)");
    }
    if (o.has_override_stream_error_on_invalid_http_message() &&
        o.override_stream_error_on_invalid_http_message().value()) {
      return error(fieldPath(opath, "override_stream_error_on_invalid_http_message"),
                   "true is not supported by remora");
    }
  }
  if (h.has_http2_protocol_options()) {
    const auto& o = h.http2_protocol_options();
    std::string opath = fieldPath(path, "http2_protocol_options");
    if (auto s = checkFields(
            o, opath,
            {"hpack_table_size", "max_concurrent_streams", "initial_stream_window_size",
             "initial_connection_window_size", "max_outbound_frames", "max_outbound_control_frames",
             "max_consecutive_inbound_frames_with_empty_payload",
             "max_inbound_priority_frames_per_stream",
             "max_inbound_window_update_frames_per_data_frame_sent",
             "override_stream_error_on_invalid_http_message"},
            {}, notes);
        !s.ok()) {
      return s;
    }
    auto bounded = [&](const google::protobuf::UInt32Value& v, std::string_view field, uint32_t lo,
                       uint32_t hi, uint32_t* dst) -> absl::Status {
      if (v.value() < lo || v.value() > hi) {
        return error(fieldPath(opath, field), cat(v.value(), " is not in [", lo, ", ", hi, "]"));
      }
      *dst = v.value();
      return absl::OkStatus();
    };
    if (o.has_max_concurrent_streams()) {
      if (auto s = bounded(o.max_concurrent_streams(), "max_concurrent_streams", 1, 2147483647,
                           &out->h2_max_concurrent_streams);
          !s.ok()) {
        return s;
      }
    }
    if (o.has_initial_stream_window_size()) {
      if (auto s = bounded(o.initial_stream_window_size(), "initial_stream_window_size", 65535,
                           2147483647, &out->h2_initial_stream_window_size);
          !s.ok()) {
        return s;
      }
    }
    if (o.has_initial_connection_window_size()) {
      if (auto s = bounded(o.initial_connection_window_size(), "initial_connection_window_size",
                           65535, 2147483647, &out->h2_initial_connection_window_size);
          !s.ok()) {
        return s;
      }
    }
    // The HPACK table and the flood limits are fixed at Envoy's defaults in remora's codec:
    // the defaults spelled out are accepted, other values are not.
    for (const auto& [field, v, set, dflt] :
         {std::tuple{"hpack_table_size", o.hpack_table_size().value(), o.has_hpack_table_size(),
                     4096u},
          std::tuple{"max_outbound_frames", o.max_outbound_frames().value(),
                     o.has_max_outbound_frames(), 10000u},
          std::tuple{"max_outbound_control_frames", o.max_outbound_control_frames().value(),
                     o.has_max_outbound_control_frames(), 1000u},
          std::tuple{"max_consecutive_inbound_frames_with_empty_payload",
                     o.max_consecutive_inbound_frames_with_empty_payload().value(),
                     o.has_max_consecutive_inbound_frames_with_empty_payload(), 1u},
          std::tuple{"max_inbound_priority_frames_per_stream",
                     o.max_inbound_priority_frames_per_stream().value(),
                     o.has_max_inbound_priority_frames_per_stream(), 100u},
          std::tuple{"max_inbound_window_update_frames_per_data_frame_sent",
                     o.max_inbound_window_update_frames_per_data_frame_sent().value(),
                     o.has_max_inbound_window_update_frames_per_data_frame_sent(), 10u}}) {
      if (set && v != dflt) {
        return error(fieldPath(opath, field),
                     cat(v, ": only Envoy's default, ", dflt, ", is supported by remora"));
      }
    }
    if (o.has_override_stream_error_on_invalid_http_message() &&
        o.override_stream_error_on_invalid_http_message().value()) {
      return error(fieldPath(opath, "override_stream_error_on_invalid_http_message"),
                   "true is not supported by remora");
    }
  }
  return absl::OkStatus();
}

absl::Status translateRds(
    const envoy::extensions::filters::network::http_connection_manager::v3::Rds& r,
    const std::string& path, config::HttpConnectionManagerConfig* out, TranslateNotes* notes) {
  if (auto s = checkFields(r, path, {"config_source", "route_config_name"}, {}, notes); !s.ok())
    return s;
  std::string cpath = fieldPath(path, "config_source");
  if (!r.has_config_source()) return error(cpath, "is required");
  auto timeout = adsSourceFetchTimeout(r.config_source(), cpath, "routes", notes);
  if (!timeout.ok()) return timeout.status();
  out->rds_fetch_timeout = *timeout;
  if (r.route_config_name().empty()) {
    return error(fieldPath(path, "route_config_name"), "must not be empty");
  }
  out->rds_name = r.route_config_name();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<config::RouteTableConfig> translateRouteConfiguration(const RouteConfiguration& rc,
                                                                     const std::string& path,
                                                                     TranslateNotes* notes) {
  // vhds, cluster_specifier_plugins, request_mirror_policies, typed_per_filter_config and
  // ignore_path_parameters_in_path_matching are refused by the field check.
  if (auto s = checkFields(
          rc, path,
          {"name", "virtual_hosts", "internal_only_headers", "request_headers_to_add",
           "request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove",
           "most_specific_header_mutations_wins", "validate_clusters",
           "max_direct_response_body_size_bytes", "ignore_port_in_host_matching"},
          {"metadata"}, notes);
      !s.ok()) {
    return s;
  }
  config::RouteTableConfig out;
  out.name = rc.name();
  if (rc.has_max_direct_response_body_size_bytes()) {
    out.max_direct_response_body_size_bytes = rc.max_direct_response_body_size_bytes().value();
  }
  out.most_specific_header_mutations_wins = rc.most_specific_header_mutations_wins();
  out.ignore_port_in_host_matching = rc.ignore_port_in_host_matching();
  // RDS default; the manager sets true for an inline route_config without the field.
  out.validate_clusters = rc.has_validate_clusters() && rc.validate_clusters().value();
  for (int i = 0; i < rc.internal_only_headers_size(); ++i) {
    std::string hpath = indexPath(path, "internal_only_headers", static_cast<size_t>(i));
    if (auto s = checkHeaderName(rc.internal_only_headers(i), hpath); !s.ok()) return s;
    out.internal_only_headers.push_back(lower(rc.internal_only_headers(i)));
  }
  for (int i = 0; i < rc.virtual_hosts_size(); ++i) {
    auto v = translateVirtualHost(rc.virtual_hosts(i),
                                  indexPath(path, "virtual_hosts", static_cast<size_t>(i)),
                                  out.max_direct_response_body_size_bytes, notes);
    if (!v.ok()) return v.status();
    out.virtual_hosts.push_back(std::move(*v));
  }
  if (auto s = checkDomains(out, path); !s.ok()) return s;
  auto h = translateMutations(rc, path, notes);
  if (!h.ok()) return h.status();
  out.headers = *h;
  return out;
}

absl::StatusOr<config::HttpConnectionManagerConfig> translateHttpConnectionManager(
    const Hcm& h, const std::string& path, TranslateNotes* notes) {
  // Observability only: tracing (spans and sampling), access log flushing. Everything not
  // listed (upgrade_configs, local_reply_config, request_id_extension, scoped_routes,
  // strip_*_host_port, proxy_100_continue, early header mutations, original IP detection,
  // HTTP/3 options, add_user_agent true, ...) is refused.
  if (auto s = checkFields(h, path,
                           {"stat_prefix",
                            "codec_type",
                            "rds",
                            "route_config",
                            "http_filters",
                            "add_user_agent",
                            "common_http_protocol_options",
                            "http_protocol_options",
                            "http2_protocol_options",
                            "server_name",
                            "server_header_transformation",
                            "max_request_headers_kb",
                            "stream_idle_timeout",
                            "request_timeout",
                            "request_headers_timeout",
                            "drain_timeout",
                            "delayed_close_timeout",
                            "access_log",
                            "use_remote_address",
                            "xff_num_trusted_hops",
                            "skip_xff_append",
                            "via",
                            "generate_request_id",
                            "preserve_external_request_id",
                            "always_set_request_id_in_response",
                            "forward_client_cert_details",
                            "set_current_client_cert_details",
                            "normalize_path",
                            "merge_slashes",
                            "path_with_escaped_slashes_action",
                            "stream_error_on_invalid_http_message",
                            "internal_address_config"},
                           {"tracing", "access_log_flush_interval",
                            "flush_access_log_on_new_request", "access_log_options"},
                           notes);
      !s.ok()) {
    return s;
  }
  config::HttpConnectionManagerConfig out;
  if (h.stat_prefix().empty()) return error(fieldPath(path, "stat_prefix"), "must not be empty");
  out.stat_prefix = h.stat_prefix();
  switch (h.codec_type()) {
    case Hcm::AUTO:
      out.codec = config::HttpConnectionManagerConfig::Codec::Auto;
      break;
    case Hcm::HTTP1:
      out.codec = config::HttpConnectionManagerConfig::Codec::Http1;
      break;
    case Hcm::HTTP2:
      out.codec = config::HttpConnectionManagerConfig::Codec::Http2;
      break;
    default:
      return error(fieldPath(path, "codec_type"), cat(Hcm::CodecType_Name(h.codec_type()),
                                                      " is not supported (AUTO, HTTP1 and "
                                                      "HTTP2 are)"));
  }
  switch (h.route_specifier_case()) {
    case Hcm::kRds:
      if (auto s = translateRds(h.rds(), fieldPath(path, "rds"), &out, notes); !s.ok()) return s;
      break;
    case Hcm::kRouteConfig: {
      auto rc =
          translateRouteConfiguration(h.route_config(), fieldPath(path, "route_config"), notes);
      if (!rc.ok()) return rc.status();
      // Envoy's default for a static route table is to validate its clusters.
      if (!h.route_config().has_validate_clusters()) rc->validate_clusters = true;
      out.route_config = std::move(*rc);
      break;
    }
    default:
      return error(path, "needs rds or route_config");
  }
  if (auto s = translateHttpFilters(h, path, &out, notes); !s.ok()) return s;
  for (int i = 0; i < h.access_log_size(); ++i) {
    auto a = translateAccessLog(h.access_log(i),
                                indexPath(path, "access_log", static_cast<size_t>(i)), notes);
    if (!a.ok()) return a.status();
    out.access_logs.push_back(std::move(*a));
  }
  if (h.has_add_user_agent() && h.add_user_agent().value()) {
    return error(fieldPath(path, "add_user_agent"), "true is not supported by remora");
  }
  if (h.has_max_request_headers_kb()) {
    uint32_t kb = h.max_request_headers_kb().value();
    if (kb < 1 || kb > 8192) {
      return error(fieldPath(path, "max_request_headers_kb"), cat(kb, " is not in [1, 8192]"));
    }
    out.max_request_headers_kb = kb;
  }
  if (auto s = translateProtocolOptions(h, path, &out, notes); !s.ok()) return s;
  for (const auto& [field, set, value, dst] :
       {std::tuple{"stream_idle_timeout", h.has_stream_idle_timeout(), &h.stream_idle_timeout(),
                   &out.stream_idle_timeout},
        std::tuple{"request_timeout", h.has_request_timeout(), &h.request_timeout(),
                   &out.request_timeout},
        std::tuple{"request_headers_timeout", h.has_request_headers_timeout(),
                   &h.request_headers_timeout(), &out.request_headers_timeout},
        std::tuple{"drain_timeout", h.has_drain_timeout(), &h.drain_timeout(),
                   &out.drain_timeout}}) {
    if (!set) continue;
    auto d = duration(*value, fieldPath(path, field));
    if (!d.ok()) return d.status();
    *dst = *d;  // 0 disables the first three, as in Envoy
  }
  if (h.has_delayed_close_timeout()) {
    auto d = duration(h.delayed_close_timeout(), fieldPath(path, "delayed_close_timeout"));
    if (!d.ok()) return d.status();
    // remora closes after Envoy's default delay; spelled out it is accepted.
    if (*d != std::chrono::seconds(1)) {
      return error(fieldPath(path, "delayed_close_timeout"),
                   "only Envoy's default, 1s, is supported by remora");
    }
  }
  if (auto s = checkHeaderValue(h.server_name(), fieldPath(path, "server_name")); !s.ok()) return s;
  if (!h.server_name().empty()) out.server_name = h.server_name();
  switch (h.server_header_transformation()) {
    case Hcm::OVERWRITE:
      out.server_header = config::HttpConnectionManagerConfig::ServerHeader::Overwrite;
      break;
    case Hcm::APPEND_IF_ABSENT:
      out.server_header = config::HttpConnectionManagerConfig::ServerHeader::AppendIfAbsent;
      break;
    case Hcm::PASS_THROUGH:
      out.server_header = config::HttpConnectionManagerConfig::ServerHeader::PassThrough;
      break;
    default:
      return error(fieldPath(path, "server_header_transformation"), "unknown value");
  }
  out.use_remote_address = h.has_use_remote_address() && h.use_remote_address().value();
  out.xff_num_trusted_hops = h.xff_num_trusted_hops();
  out.skip_xff_append = h.skip_xff_append();
  if (auto s = checkHeaderValue(h.via(), fieldPath(path, "via")); !s.ok()) return s;
  out.via = h.via();
  out.generate_request_id = !h.has_generate_request_id() || h.generate_request_id().value();
  out.preserve_external_request_id = h.preserve_external_request_id();
  out.always_set_request_id_in_response = h.always_set_request_id_in_response();
  // Without TLS on remora's HTTP chains (only raw_buffer is accepted) every mode but
  // ALWAYS_FORWARD_ONLY behaves as SANITIZE: x-forwarded-client-cert is removed, and
  // set_current_client_cert_details has nothing to describe. Revisit with downstream TLS.
  if (h.forward_client_cert_details() == Hcm::ALWAYS_FORWARD_ONLY) {
    return error(fieldPath(path, "forward_client_cert_details"),
                 "ALWAYS_FORWARD_ONLY is not supported by remora");
  }
  // internal_address_config only decides which requests are internal when the remote address is
  // used (x-envoy-internal); without use_remote_address it changes nothing.
  if (h.has_internal_address_config() && out.use_remote_address) {
    return error(fieldPath(path, "internal_address_config"),
                 "not supported by remora together with use_remote_address");
  }
  if (h.has_internal_address_config() && notes != nullptr) {
    notes->ignored.push_back(fieldPath(path, "internal_address_config"));
  }
  out.normalize_path = h.has_normalize_path() && h.normalize_path().value();
  out.merge_slashes = h.merge_slashes();
  // IMPLEMENTATION_SPECIFIC_DEFAULT is KEEP_UNCHANGED in Envoy.
  if (h.path_with_escaped_slashes_action() != Hcm::IMPLEMENTATION_SPECIFIC_DEFAULT &&
      h.path_with_escaped_slashes_action() != Hcm::KEEP_UNCHANGED) {
    return error(fieldPath(path, "path_with_escaped_slashes_action"),
                 cat(Hcm::PathWithEscapedSlashesAction_Name(h.path_with_escaped_slashes_action()),
                     " is not supported by remora (KEEP_UNCHANGED is)"));
  }
  if (h.has_stream_error_on_invalid_http_message() &&
      h.stream_error_on_invalid_http_message().value()) {
    return error(fieldPath(path, "stream_error_on_invalid_http_message"),
                 "true is not supported by remora");
  }
  return out;
}

absl::StatusOr<config::StringMatch> translateStringMatch(
    const envoy::type::matcher::v3::StringMatcher& m, const std::string& path,
    TranslateNotes* notes) {
  return translateStringMatcher(m, path, notes);
}

}  // namespace remora::xds

#pragma GCC diagnostic pop
