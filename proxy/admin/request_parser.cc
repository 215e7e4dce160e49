// Admin request parsing.
#include "proxy/admin/request_parser.h"

namespace remora::admin {

RequestParser::RequestParser(size_t max_request_bytes) : max_bytes_(max_request_bytes) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::onMessageBegin;
  settings_.on_url = &RequestParser::onUrl;
  settings_.on_header_field = &RequestParser::onOtherBytes;
  settings_.on_header_value = &RequestParser::onOtherBytes;
  settings_.on_body = &RequestParser::onOtherBytes;
  settings_.on_message_complete = &RequestParser::onMessageComplete;
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

RequestParser::Status RequestParser::feed(std::string_view data, std::vector<Parsed>* out) {
  if (failed_ != Status::Ok) return failed_;
  if (done_) return Status::Ok;
  out_ = out;
  llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
  out_ = nullptr;
  if (err == HPE_OK || err == HPE_PAUSED) return Status::Ok;
  error_name_ = llhttp_errno_name(err);
  failed_ = request_bytes_ > max_bytes_ ? Status::TooLarge : Status::BadRequest;
  return failed_;
}

int RequestParser::onMessageBegin(llhttp_t* p) {
  auto* self = static_cast<RequestParser*>(p->data);
  self->url_.clear();
  self->request_bytes_ = 0;
  return 0;
}

int RequestParser::onUrl(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<RequestParser*>(p->data);
  self->request_bytes_ += len;
  if (self->request_bytes_ > self->max_bytes_) return -1;
  self->url_.append(at, len);
  return 0;
}

int RequestParser::onOtherBytes(llhttp_t* p, const char*, size_t len) {
  auto* self = static_cast<RequestParser*>(p->data);
  self->request_bytes_ += len;
  return self->request_bytes_ > self->max_bytes_ ? -1 : 0;
}

int RequestParser::onMessageComplete(llhttp_t* p) {
  auto* self = static_cast<RequestParser*>(p->data);
  Parsed parsed;
  parsed.request.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
  size_t q = self->url_.find('?');
  parsed.request.path = self->url_.substr(0, q);
  if (q != std::string::npos) parsed.request.query = self->url_.substr(q + 1);
  parsed.keep_alive = llhttp_should_keep_alive(p) != 0;
  self->out_->push_back(std::move(parsed));
  if (!self->out_->back().keep_alive) {
    self->done_ = true;
    return HPE_PAUSED;
  }
  return 0;
}

}  // namespace remora::admin
