// The compiled route table. Envoy references are to source/common/router/config_impl.cc,
// config_utility.cc, header_parser.cc and source/common/http/{header_utility,utility}.cc.
#include "proxy/http/route_table.h"

#include <re2/re2.h>

#include <algorithm>

#include "proxy/common/strings.h"

namespace remora::http {
namespace {

char lowerChar(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool startsWith(std::string_view s, std::string_view prefix, bool ignore_case) {
  if (s.size() < prefix.size()) return false;
  return ignore_case ? equalsIgnoreCase(s.substr(0, prefix.size()), prefix)
                     : s.substr(0, prefix.size()) == prefix;
}

bool endsWith(std::string_view s, std::string_view suffix, bool ignore_case) {
  if (s.size() < suffix.size()) return false;
  std::string_view tail = s.substr(s.size() - suffix.size());
  return ignore_case ? equalsIgnoreCase(tail, suffix) : tail == suffix;
}

bool containsIgnoreCase(std::string_view s, std::string_view needle) {
  if (needle.empty()) return true;
  for (size_t i = 0; i + needle.size() <= s.size(); ++i) {
    if (equalsIgnoreCase(s.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// Envoy's PathUtil::removeQueryAndFragment: route matching sees the path only.
std::string_view removeQueryAndFragment(std::string_view path) {
  size_t end = path.find_first_of("?#");
  return end == std::string_view::npos ? path : path.substr(0, end);
}

// Envoy's HeaderUtility::getPortStart: the ':' before a port, not inside an IPv6 literal.
size_t portStart(std::string_view host) {
  size_t colon = host.rfind(':');
  if (colon == std::string_view::npos) return colon;
  size_t v6_end = host.rfind(']');
  if (v6_end == std::string_view::npos || v6_end < colon) return colon;
  return std::string_view::npos;
}

// absl::SimpleAtoi: optional surrounding ASCII whitespace, an optional sign, digits.
bool parseInt64(std::string_view s, int64_t* out) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s.front() == '-') return false;
  }
  return parseInt(s, out);
}

absl::StatusOr<std::shared_ptr<const re2::RE2>> compile(const std::string& pattern,
                                                        std::string_view what) {
  auto re = std::make_shared<const re2::RE2>(pattern, re2::RE2::Quiet);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        cat(what, ": '", pattern, "' is not a valid RE2 regular expression: ", re->error()));
  }
  return re;
}

absl::StatusOr<std::shared_ptr<const re2::RE2>> compileRewrite(const config::RegexRewrite& r,
                                                               std::string_view what) {
  auto re = compile(r.pattern, what);
  if (!re.ok()) return re.status();
  std::string why;
  if (!(*re)->CheckRewriteString(r.substitution, &why)) {
    return absl::InvalidArgumentError(cat(what, ": substitution '", r.substitution, "': ", why));
  }
  return re;
}

// A request header's value as Envoy's matchers see it: pseudo-headers by their ':' names, and
// several values of one header joined with ',' (HeaderUtility::getAllOfHeaderAsString).
// `joined` backs the view when there is more than one value.
std::optional<std::string_view> headerValue(const RequestHeaders& r, std::string_view name,
                                            std::string& joined) {
  if (!name.empty() && name[0] == ':') {
    std::string_view v;
    if (name == ":method") {
      v = r.method;
    } else if (name == ":authority") {
      v = r.authority;
    } else if (name == ":path") {
      v = r.path;
    } else if (name == ":scheme") {
      v = r.scheme;
    } else if (name == ":protocol") {
      v = r.protocol;
    }
    if (v.empty()) return std::nullopt;
    return v;
  }
  const std::string_view* first = nullptr;
  bool several = false;
  for (const auto& e : r.headers.entries()) {
    if (e.name != name) continue;
    if (first == nullptr) {
      first = &e.value;
    } else {
      several = true;
      break;
    }
  }
  if (first == nullptr) return std::nullopt;
  if (!several) return std::string_view(*first);
  joined.clear();
  for (const auto& e : r.headers.entries()) {
    if (e.name != name) continue;
    if (!joined.empty()) joined.push_back(',');
    joined.append(e.value);
  }
  return std::string_view(joined);
}

// The first value of a header (Envoy's headers.get(name)[0]), pseudo-headers included; empty
// when absent. A view into the request.
std::string_view firstValue(const RequestHeaders& r, std::string_view name) {
  if (!name.empty() && name[0] == ':') {
    std::string unused;
    return headerValue(r, name, unused).value_or(std::string_view());
  }
  const std::string_view* v = r.headers.get(name);
  return v == nullptr ? std::string_view() : std::string_view(*v);
}

// The first value of a query parameter, not percent-decoded: Envoy's route matching parses the
// query with QueryParamsMulti::parseQueryString (no decoding) and looks at the first value.
std::optional<std::string_view> firstQueryValue(std::string_view query, std::string_view name) {
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view param = query.substr(start, end - start);
    size_t eq = param.find('=');
    std::string_view key = eq == std::string_view::npos ? param : param.substr(0, eq);
    if (key == name)
      return eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    start = end + 1;
  }
  return std::nullopt;
}

// Grpc::Common::hasGrpcContentType: exactly application/grpc, or application/grpc+<codec>.
bool isGrpc(const RequestHeaders& r) {
  const std::string_view* ct = r.headers.get("content-type");
  if (ct == nullptr) return false;
  constexpr std::string_view kGrpc = "application/grpc";
  std::string_view v = *ct;
  return v.substr(0, kGrpc.size()) == kGrpc && (v.size() == kGrpc.size() || v[kGrpc.size()] == '+');
}

}  // namespace

// --- StringMatcher ---

absl::StatusOr<StringMatcher> StringMatcher::create(const config::StringMatch& config) {
  StringMatcher m;
  m.config_ = config;
  if (config.kind == config::StringMatch::Kind::Regex) {
    auto re = compile(config.value, "regex");
    if (!re.ok()) return re.status();
    m.regex_ = *re;
  }
  return m;
}

bool StringMatcher::match(std::string_view v) const {
  const std::string& want = config_.value;
  bool ic = config_.ignore_case;
  switch (config_.kind) {
    case config::StringMatch::Kind::Exact:
      return ic ? equalsIgnoreCase(v, want) : v == want;
    case config::StringMatch::Kind::Prefix:
      return startsWith(v, want, ic);
    case config::StringMatch::Kind::Suffix:
      return endsWith(v, want, ic);
    case config::StringMatch::Kind::Contains:
      return ic ? containsIgnoreCase(v, want) : v.find(want) != std::string_view::npos;
    case config::StringMatch::Kind::Regex:
      // ignore_case has no effect on regexes in Envoy either.
      return re2::RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *regex_);
  }
  return false;
}

// --- HeaderMatcher ---

absl::StatusOr<HeaderMatcher> HeaderMatcher::create(const config::HeaderMatch& config) {
  HeaderMatcher m;
  m.config_ = config;
  if (config.kind == config::HeaderMatch::Kind::String) {
    auto sm = StringMatcher::create(config.string_match);
    if (!sm.ok()) return sm.status();
    m.string_ = std::move(*sm);
  }
  return m;
}

bool HeaderMatcher::match(const RequestHeaders& r, std::string& joined) const {
  const config::HeaderMatch& hm = config_;
  auto value = headerValue(r, hm.name, joined);
  // HeaderUtility::matchHeaders: a missing header fails every matcher (inverted or not)
  // except a presence matcher, unless it is to be treated as empty.
  if (!value && !hm.treat_missing_as_empty) {
    return hm.kind == config::HeaderMatch::Kind::Present && (hm.invert ? hm.present : !hm.present);
  }
  std::string_view v = value.value_or(std::string_view());
  bool match = false;
  switch (hm.kind) {
    case config::HeaderMatch::Kind::Present:
      match = hm.present;
      break;
    case config::HeaderMatch::Kind::String:
      match = string_->match(v);
      break;
    case config::HeaderMatch::Kind::Range: {
      int64_t n = 0;
      match = parseInt64(v, &n) && n >= hm.range_start && n < hm.range_end;
      break;
    }
  }
  return match != hm.invert;
}

// --- Route ---

bool Route::matches(const RequestHeaders& r, std::string_view path) const {
  const auto& m = config_->match;
  if (m.grpc_only && !isGrpc(r)) return false;
  std::string joined;
  for (const auto& h : headers_) {
    if (!h.match(r, joined)) return false;
  }
  if (!query_.empty()) {
    std::string_view query = r.query();
    for (const auto& q : query_) {
      auto v = firstQueryValue(query, q.config->name);
      if (!v) return false;
      if (!q.config->present_only && !q.string->match(*v)) return false;
    }
  }
  const std::string& want = m.path;
  bool ic = !m.case_sensitive;
  switch (m.path_kind) {
    case config::RouteMatchConfig::PathKind::Prefix:
      return startsWith(path, want, ic);
    case config::RouteMatchConfig::PathKind::Path:
      return ic ? equalsIgnoreCase(path, want) : path == want;
    case config::RouteMatchConfig::PathKind::Regex:
      // Envoy: the whole path (without query) must match; case_sensitive does not apply.
      return re2::RE2::FullMatch(re2::StringPiece(path.data(), path.size()), *path_regex_);
    case config::RouteMatchConfig::PathKind::PathSeparatedPrefix:
      return startsWith(path, want, ic) && (path.size() == want.size() || path[want.size()] == '/');
  }
  return false;
}

const config::RouteWeightedCluster* Route::pickCluster(uint64_t random) const {
  const auto& clusters = config_->route.weighted_clusters;
  if (clusters.empty() || total_weight_ == 0) return nullptr;
  // WeightedClusterSpecifierPlugin::pickWeightedCluster: random % total, walking the list.
  uint64_t selected = random % total_weight_;
  uint64_t begin = 0;
  for (const auto& c : clusters) {
    uint64_t end = begin + c.weight;
    if (selected >= begin && selected < end) return &c;
    begin = end;
  }
  return &clusters.back();  // unreachable: the weights sum to total_weight_
}

std::string_view Route::clusterName(const RequestHeaders& r, uint64_t random) const {
  const auto& a = config_->route;
  if (!a.cluster.empty()) return a.cluster;
  if (const auto* c = pickCluster(random)) return c->name;
  if (!a.cluster_header.empty()) return firstValue(r, a.cluster_header);
  return {};
}

std::string_view Route::matchedPath(std::string_view path_only) const {
  // What a prefix_rewrite replaces: the configured prefix or path; for regex routes the whole
  // path (RegexRouteEntryImpl passes the path without query as the matched part).
  if (config_->match.path_kind == config::RouteMatchConfig::PathKind::Regex) return path_only;
  return config_->match.path;
}

std::string Route::rewriteByPrefixOrRegex(std::string_view path, std::string_view matched,
                                          std::string_view prefix, const re2::RE2* regex,
                                          std::string_view substitution) {
  // Envoy's rewritePathByPrefixOrRegex.
  if (!prefix.empty()) {
    if (matched.size() > path.size()) return {};
    return cat(prefix, path.substr(matched.size()));
  }
  if (regex != nullptr) {
    std::string_view path_only = removeQueryAndFragment(path);
    std::string rewritten(path_only);
    re2::RE2::GlobalReplace(&rewritten, *regex,
                            re2::StringPiece(substitution.data(), substitution.size()));
    if (rewritten.empty()) return {};  // Envoy: a failed rewrite leaves the path alone
    rewritten.append(path.substr(path_only.size()));
    return rewritten;
  }
  return {};
}

std::string Route::rewritePath(const RequestHeaders& r) const {
  if (config_->kind != config::RouteConfigEntry::Kind::Route) return {};
  const auto& a = config_->route;
  if (a.prefix_rewrite.empty() && regex_rewrite_ == nullptr) return {};
  std::string_view path = r.path;
  return rewriteByPrefixOrRegex(
      path, matchedPath(removeQueryAndFragment(path)), a.prefix_rewrite, regex_rewrite_.get(),
      a.regex_rewrite ? std::string_view(a.regex_rewrite->substitution) : std::string_view());
}

std::optional<std::string> Route::rewriteHost(const RequestHeaders& r) const {
  if (config_->kind != config::RouteConfigEntry::Kind::Route) return std::nullopt;
  const auto& a = config_->route;
  if (!a.host_rewrite_literal.empty()) return a.host_rewrite_literal;
  if (!a.host_rewrite_header.empty()) {
    // Envoy: the header's first value, when there is a non-empty one.
    std::string_view v = firstValue(r, a.host_rewrite_header);
    if (v.empty()) return std::nullopt;
    return std::string(v);
  }
  if (host_rewrite_regex_ != nullptr) {
    // The substitution runs on the path without query and fragment.
    std::string host(removeQueryAndFragment(r.path));
    const std::string& sub = a.host_rewrite_path_regex->substitution;
    re2::RE2::GlobalReplace(&host, *host_rewrite_regex_, re2::StringPiece(sub.data(), sub.size()));
    return host;
  }
  return std::nullopt;
}

std::string Route::redirectLocation(const RequestHeaders& r, bool https_downstream) const {
  const config::RedirectConfig& rd = config_->redirect;
  std::string_view fallback_scheme = https_downstream ? "https" : "http";
  // The router first applies the redirect's prefix or regex rewrite to :path
  // (finalizePathHeaderForRedirect), then builds the URI from the rewritten path.
  std::string rewritten;
  std::string_view path = r.path;
  if (!rd.prefix_rewrite.empty() || regex_rewrite_ != nullptr) {
    rewritten = rewriteByPrefixOrRegex(
        path, matchedPath(removeQueryAndFragment(path)), rd.prefix_rewrite, regex_rewrite_.get(),
        rd.regex_rewrite ? std::string_view(rd.regex_rewrite->substitution) : std::string_view());
    if (!rewritten.empty()) path = rewritten;
  }
  // Http::Utility::newUri. The scheme of the request URL (not of the connection).
  std::string_view scheme = !rd.scheme_redirect.empty() ? std::string_view(rd.scheme_redirect)
                            : rd.https_redirect         ? std::string_view("https")
                            : !r.scheme.empty()         ? std::string_view(r.scheme)
                                                        : fallback_scheme;
  std::string port = rd.port_redirect != 0 ? cat(":", rd.port_redirect) : std::string();
  std::string_view host;
  if (!rd.host_redirect.empty()) {
    host = rd.host_redirect;
  } else {
    // processRequestHost: drop the request's port when a new one is given, or when the scheme
    // changes and the port was the default one of x-forwarded-proto's scheme (which the
    // connection manager always sets; the connection's scheme stands in for it).
    host = r.authority;
    size_t host_end;
    if (!host.empty() && host[0] == '[') {
      host_end = host.rfind("]:");
      if (host_end != std::string_view::npos) host_end += 1;
    } else {
      host_end = host.rfind(':');
    }
    if (!host.empty() && host_end != std::string_view::npos) {
      std::string_view request_port = host.substr(host_end);
      const std::string_view* xfp = r.headers.get("x-forwarded-proto");
      std::string_view proto = xfp != nullptr ? std::string_view(*xfp) : fallback_scheme;
      bool remove_port = !port.empty();
      if (scheme != proto) {
        remove_port |= equalsIgnoreCase(proto, "https") && request_port == ":443";
        remove_port |= equalsIgnoreCase(proto, "http") && request_port == ":80";
      }
      if (remove_port) host = host.substr(0, host_end);
    }
  }
  std::string final_path;
  bool redirect_has_query = rd.path_redirect.find('?') != std::string::npos;
  if (!rd.path_redirect.empty()) {
    // A query in path_redirect wins over the request's and is never stripped.
    final_path = rd.path_redirect;
    if (!redirect_has_query) {
      size_t q = path.find('?');
      if (q != std::string_view::npos) final_path.append(path.substr(q));
    }
  } else {
    final_path = path;
  }
  if (final_path.empty() || final_path[0] != '/') final_path.insert(0, "/");
  if (!redirect_has_query && rd.strip_query) {
    size_t q = final_path.find('?');
    if (q != std::string::npos) final_path.resize(q);
  }
  return cat(scheme, "://", host, port, final_path);
}

void Route::mutate(HeaderMap& headers, const std::vector<std::string>& remove,
                   const std::vector<config::HeaderToAdd>& add) {
  // HeaderParser::evaluateHeaders: removals first; then every decision is taken against the
  // headers as they are now; then overwrites are applied, then appends.
  for (const auto& name : remove) headers.remove(name);
  if (add.empty()) return;
  constexpr size_t kInline = 32;
  bool inline_apply[kInline];
  std::unique_ptr<bool[]> heap_apply;
  bool* apply = inline_apply;
  if (add.size() > kInline) {
    heap_apply = std::make_unique<bool[]>(add.size());
    apply = heap_apply.get();
  }
  using A = config::HeaderToAdd::Action;
  for (size_t i = 0; i < add.size(); ++i) {
    const auto& h = add[i];
    if (h.value.empty() && !h.keep_empty_value) {
      apply[i] = false;  // empty values are dropped unless keep_empty_value
      continue;
    }
    switch (h.action) {
      case A::AppendIfExistsOrAdd:
      case A::OverwriteIfExistsOrAdd:
        apply[i] = true;
        break;
      case A::AddIfAbsent:
        apply[i] = !headers.has(h.name);
        break;
      case A::OverwriteIfExists:
        apply[i] = headers.has(h.name);
        break;
    }
  }
  for (size_t i = 0; i < add.size(); ++i) {
    A a = add[i].action;
    if (apply[i] && (a == A::OverwriteIfExists || a == A::OverwriteIfExistsOrAdd)) {
      headers.set(add[i].name, add[i].value);
    }
  }
  for (size_t i = 0; i < add.size(); ++i) {
    A a = add[i].action;
    if (apply[i] && (a == A::AppendIfExistsOrAdd || a == A::AddIfAbsent)) {
      headers.add(add[i].name, add[i].value);
    }
  }
}

void Route::applyRequestHeaders(RequestHeaders& r,
                                const config::RouteWeightedCluster* picked) const {
  // WeightedClusterEntry::finalizeRequestHeaders applies the cluster's own parser before the
  // route's; RouteEntryImplBase then goes route, virtual host, route configuration ("later
  // evaluated header parser wins"), or the reverse with most_specific_header_mutations_wins.
  if (picked != nullptr)
    mutate(r.headers, picked->headers.request_remove, picked->headers.request_add);
  const config::HeaderMutations* order[3] = {&config_->headers, &vhost_->config().headers,
                                             &table_->config().headers};
  if (table_->config().most_specific_header_mutations_wins) std::swap(order[0], order[2]);
  for (const auto* m : order) mutate(r.headers, m->request_remove, m->request_add);
}

void Route::applyResponseHeaders(ResponseHeaders& r,
                                 const config::RouteWeightedCluster* picked) const {
  if (picked != nullptr) {
    mutate(r.headers, picked->headers.response_remove, picked->headers.response_add);
  }
  const config::HeaderMutations* order[3] = {&config_->headers, &vhost_->config().headers,
                                             &table_->config().headers};
  if (table_->config().most_specific_header_mutations_wins) std::swap(order[0], order[2]);
  for (const auto* m : order) mutate(r.headers, m->response_remove, m->response_add);
}

void Route::finalizeRequest(RequestHeaders& r, const config::RouteWeightedCluster* picked,
                            bool keep_original_path) const {
  applyRequestHeaders(r, picked);
  if (auto host = rewriteHost(r)) r.authority = std::move(*host);
  std::string path = rewritePath(r);
  if (!path.empty()) {
    if (keep_original_path) r.headers.set("x-envoy-original-path", r.path);
    r.path = std::move(path);
  }
}

// --- VirtualHost ---

const Route* VirtualHost::route(const RequestHeaders& r) const {
  std::string_view path = removeQueryAndFragment(r.path);
  for (const auto& route : routes_) {
    if (route->matches(r, path)) return route.get();
  }
  return nullptr;
}

// --- RouteTable ---

absl::StatusOr<std::shared_ptr<const RouteTable>> RouteTable::create(
    const config::RouteTableConfig& config) {
  std::shared_ptr<RouteTable> t(new RouteTable());
  t->config_ = config;
  for (size_t i = 0; i < t->config_.virtual_hosts.size(); ++i) {
    const auto& vc = t->config_.virtual_hosts[i];
    std::string vwhat = cat("virtual_hosts[", i, "] '", vc.name, "'");
    auto vh = std::unique_ptr<VirtualHost>(new VirtualHost());
    vh->config_ = &vc;
    for (size_t j = 0; j < vc.routes.size(); ++j) {
      const auto& rc = vc.routes[j];
      std::string what = cat(vwhat, ".routes[", j, "]");
      auto route = std::unique_ptr<Route>(new Route());
      route->config_ = &rc;
      route->vhost_ = vh.get();
      route->table_ = t.get();
      if (rc.match.path_kind == config::RouteMatchConfig::PathKind::Regex) {
        auto re = compile(rc.match.path, cat(what, ".match.safe_regex"));
        if (!re.ok()) return re.status();
        route->path_regex_ = *re;
      }
      for (const auto& h : rc.match.headers) {
        auto m = HeaderMatcher::create(h);
        if (!m.ok())
          return absl::InvalidArgumentError(
              cat(what, ".match.headers '", h.name, "': ", m.status().message()));
        route->headers_.push_back(std::move(*m));
      }
      for (const auto& q : rc.match.query_parameters) {
        Route::QueryMatcher m{&q, std::nullopt};
        if (!q.present_only) {
          auto sm = StringMatcher::create(q.string_match);
          if (!sm.ok())
            return absl::InvalidArgumentError(
                cat(what, ".match.query_parameters '", q.name, "': ", sm.status().message()));
          m.string = std::move(*sm);
        }
        route->query_.push_back(std::move(m));
      }
      const std::optional<config::RegexRewrite>* rewrite = nullptr;
      if (rc.kind == config::RouteConfigEntry::Kind::Route) {
        for (const auto& c : rc.route.weighted_clusters) route->total_weight_ += c.weight;
        if (!rc.route.weighted_clusters.empty() && route->total_weight_ == 0) {
          return absl::InvalidArgumentError(cat(what, ": the weighted clusters' weights sum to 0"));
        }
        if (rc.route.host_rewrite_path_regex) {
          auto re = compileRewrite(*rc.route.host_rewrite_path_regex,
                                   cat(what, ".route.host_rewrite_path_regex"));
          if (!re.ok()) return re.status();
          route->host_rewrite_regex_ = *re;
        }
        rewrite = &rc.route.regex_rewrite;
      } else if (rc.kind == config::RouteConfigEntry::Kind::Redirect) {
        rewrite = &rc.redirect.regex_rewrite;
      }
      if (rewrite != nullptr && rewrite->has_value()) {
        auto re = compileRewrite(**rewrite, cat(what, ".regex_rewrite"));
        if (!re.ok()) return re.status();
        route->regex_rewrite_ = *re;
      }
      vh->routes_.push_back(std::move(route));
    }
    // RouteMatcher's domain index, with its rules: one "*", no duplicates.
    for (const auto& domain : vc.domains) {
      std::string d = domain;
      for (char& c : d) c = lowerChar(c);
      bool inserted = true;
      if (d == "*") {
        if (t->default_ != nullptr) {
          return absl::InvalidArgumentError(
              cat(vwhat, ": only a single wildcard domain '*' is permitted"));
        }
        t->default_ = vh.get();
      } else if (!d.empty() && d.front() == '*') {
        inserted = t->suffixes_[d.size() - 1].emplace(d.substr(1), vh.get()).second;
      } else if (!d.empty() && d.back() == '*') {
        inserted = t->prefixes_[d.size() - 1].emplace(d.substr(0, d.size() - 1), vh.get()).second;
      } else {
        inserted = t->exact_.emplace(d, vh.get()).second;
      }
      if (!inserted) {
        return absl::InvalidArgumentError(cat(vwhat, ": duplicate domain '", d, "'"));
      }
    }
    t->vhosts_.push_back(std::move(vh));
  }
  return std::shared_ptr<const RouteTable>(std::move(t));
}

const VirtualHost* RouteTable::virtualHost(std::string_view authority) const {
  // RouteMatcher::findVirtualHost.
  if (exact_.empty() && suffixes_.empty() && prefixes_.empty()) return default_;
  std::string_view host = authority;
  if (config_.ignore_port_in_host_matching) {
    size_t p = portStart(host);
    if (p != std::string_view::npos) host = host.substr(0, p);
  }
  // Hostnames are case-insensitive: compare lower-cased (on the stack for sane lengths).
  char buf[256];
  std::string heap;
  char* lowered = buf;
  if (host.size() > sizeof(buf)) {
    heap.resize(host.size());
    lowered = heap.data();
  }
  for (size_t i = 0; i < host.size(); ++i) lowered[i] = lowerChar(host[i]);
  std::string_view h(lowered, host.size());
  auto find = [](const DomainMap& m, std::string_view key) -> const VirtualHost* {
    auto it = m.find(absl::string_view(key.data(), key.size()));
    return it == m.end() ? nullptr : it->second;
  };
  if (const auto* v = find(exact_, h)) return v;
  // Longest wildcard first; ">=": a wildcard never matches an empty part ("*.foo.com" does not
  // match ".foo.com").
  for (const auto& [len, m] : suffixes_) {
    if (len >= h.size()) continue;
    if (const auto* v = find(m, h.substr(h.size() - len))) return v;
  }
  for (const auto& [len, m] : prefixes_) {
    if (len >= h.size()) continue;
    if (const auto* v = find(m, h.substr(0, len))) return v;
  }
  return default_;
}

const Route* RouteTable::route(const RequestHeaders& r) const {
  const VirtualHost* vh = virtualHost(r.authority);
  return vh == nullptr ? nullptr : vh->route(r);
}

}  // namespace remora::http
