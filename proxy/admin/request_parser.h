// Incremental HTTP/1.1 request parsing for the admin server (llhttp underneath): complete
// requests come out in order, with keep-alive decided per request; a request larger than
// the limit or malformed is an error that ends the connection.
#pragma once

#include <llhttp.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxy/admin/http_server.h"

namespace remora::admin {

class RequestParser {
 public:
  struct Parsed {
    Request request;
    bool keep_alive = true;
  };
  enum class Status { Ok, BadRequest, TooLarge };

  explicit RequestParser(size_t max_request_bytes);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses bytes; appends each complete request to *out. After a request that does not keep
  // the connection alive, or after an error, the rest of the input is ignored.
  Status feed(std::string_view data, std::vector<Parsed>* out);
  // llhttp's name for the last error ("HPE_INVALID_HEADER_TOKEN").
  std::string_view errorName() const { return error_name_; }

 private:
  static int onMessageBegin(llhttp_t* p);
  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onOtherBytes(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);

  llhttp_t parser_;
  llhttp_settings_t settings_;
  size_t max_bytes_;
  size_t request_bytes_ = 0;
  std::string url_;
  std::vector<Parsed>* out_ = nullptr;
  bool done_ = false;
  Status failed_ = Status::Ok;
  std::string error_name_;
};

}  // namespace remora::admin
