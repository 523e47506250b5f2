#include "server/resp.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "cluster_sim/redis_syntax.h"
#include "cluster_sim/strings.h"

namespace server {

namespace {

// Redis's string2ll: the whole of `s` is "0" or an optional '-' then a digit 1-9 then
// digits, at most 20 bytes, within int64. No '+', no leading zero, no "-0", nothing empty.
bool ParseLength(std::string_view s, int64_t* v) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() == 1 && s[0] == '0') {
    *v = 0;
    return true;
  }
  size_t i = 0;
  bool negative = s[0] == '-';
  if (negative) ++i;
  if (i == s.size() || s[i] < '1' || s[i] > '9') return false;
  uint64_t u = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    unsigned d = static_cast<unsigned>(s[i] - '0');
    if (u > (UINT64_MAX - d) / 10) return false;
    u = u * 10 + d;
  }
  if (negative) {
    if (u > uint64_t{1} << 63) return false;
    *v = static_cast<int64_t>(0 - u);
  } else {
    if (u > uint64_t{INT64_MAX}) return false;
    *v = static_cast<int64_t>(u);
  }
  return true;
}

// Without AUTH (requirepass set), Redis takes at most 10 arguments of 16KB.
constexpr int64_t kUnauthenticatedArgs = 10;
constexpr int64_t kUnauthenticatedBulk = 16384;

}  // namespace

void RespParser::Append(std::string_view bytes) {
  std::memcpy(Prepare(bytes.size()), bytes.data(), bytes.size());
  Commit(bytes.size());
}

char* RespParser::Prepare(size_t n) {
  Compact();
  if (buf_.size() < size_ + n) buf_.resize(std::max(size_ + n, buf_.size() * 2));
  return buf_.data() + size_;
}

void RespParser::Commit(size_t n) { size_ += std::min(n, buf_.size() - size_); }

void RespParser::Compact() {
  if (pos_ == 0) return;
  if (pos_ == size_) {
    pos_ = size_ = 0;
    return;
  }
  // Move the unconsumed tail to the front only when it is small or the consumed head is
  // large, so a big request arriving in pieces is not copied again and again.
  if (size_ - pos_ <= pos_ || pos_ >= (size_t{1} << 20)) {
    std::memmove(buf_.data(), buf_.data() + pos_, size_ - pos_);
    size_ -= pos_;
    pos_ = 0;
  }
}

size_t RespParser::FindFrom(char c) const {
  const char* begin = buf_.data() + pos_;
  const void* hit = std::memchr(begin, c, size_ - pos_);
  if (hit == nullptr) return std::string::npos;
  size_t at = static_cast<size_t>(static_cast<const char*>(hit) - buf_.data());
  // Redis searches its NUL-terminated buffer with strchr, which stops at a NUL byte.
  if (std::memchr(begin, '\0', at - pos_) != nullptr) return std::string::npos;
  return at;
}

bool RespParser::ShortLength(int64_t* n, size_t* eol) const {
  const char* digits = buf_.data() + pos_ + 1;
  const char* end = buf_.data() + size_;
  const char* p = digits;
  int64_t v = 0;
  while (p < end && p - digits < 18 && static_cast<unsigned char>(*p - '0') < 10) {
    v = v * 10 + (*p - '0');
    ++p;
  }
  if (p == digits || end - p < 2 || p[0] != '\r' || p[1] != '\n') return false;
  if (digits[0] == '0' && p - digits > 1) return false;  // a leading zero: invalid
  *n = v;
  *eol = static_cast<size_t>(p - buf_.data());
  return true;
}

RespParser::Result RespParser::Fail(std::string* error, std::string text) {
  failed_ = true;
  *error = "Protocol error: " + std::move(text);
  return Result::kError;
}

RespParser::Result RespParser::Next(std::vector<std::string>* argv, std::string* error) {
  if (failed_) {
    *error = "Protocol error: connection is in error state";
    return Result::kError;
  }
  while (pos_ < size_ || in_multibulk_) {
    Result r = (in_multibulk_ || buf_[pos_] == '*') ? ParseMultibulk(argv, error)
                                                    : ParseInline(argv, error);
    if (r == Result::kNeedMore) {
      if (request_bytes_ + buffered() > limits_.max_request_bytes) {
        return Fail(error,
                    "request larger than " + std::to_string(limits_.max_request_bytes) + " bytes");
      }
      return r;
    }
    if (r == Result::kError) return r;
    if (!argv->empty()) return r;
    // An empty request (`*0`, a blank line): nothing to run, go on.
  }
  return Result::kNeedMore;
}

RespParser::Result RespParser::ParseInline(std::vector<std::string>* argv, std::string* error) {
  size_t nl = FindFrom('\n');
  if (nl == std::string::npos) {
    // As Redis: only a line still without its newline is judged by its length.
    if (buffered() > limits_.max_inline_bytes) return Fail(error, "too big inline request");
    return Result::kNeedMore;
  }
  std::string_view line(buf_.data() + pos_, nl - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto split = cluster_sim::SplitCommand(line);
  if (!split.ok()) return Fail(error, "unbalanced quotes in request");
  pos_ = nl + 1;
  *argv = std::move(split).value();
  return Result::kCommand;
}

RespParser::Result RespParser::ReadHeader(const char* too_big, int64_t* n, size_t* eol, bool* valid,
                                          std::string* error) {
  *valid = true;
  if (ShortLength(n, eol)) return Result::kCommand;
  // As Redis: the line ends at its first CR (a NUL before it hides it), whatever byte
  // follows the CR is skipped, and only a line without a CR is judged by its length.
  size_t cr = FindFrom('\r');
  if (cr == std::string::npos) {
    if (buffered() > limits_.max_inline_bytes) return Fail(error, too_big);
    return Result::kNeedMore;
  }
  if (cr + 1 >= size_) return Result::kNeedMore;
  *eol = cr;
  *valid = ParseLength(std::string_view(buf_.data() + pos_ + 1, cr - pos_ - 1), n);
  return Result::kCommand;
}

RespParser::Result RespParser::ParseMultibulk(std::vector<std::string>* argv, std::string* error) {
  if (!in_multibulk_) {
    int64_t n = 0;
    size_t eol = 0;
    bool valid = false;
    Result r = ReadHeader("too big mbulk count string", &n, &eol, &valid, error);
    if (r != Result::kCommand) return r;
    if (!valid || (n > 0 && static_cast<uint64_t>(n) > limits_.max_args)) {
      return Fail(error, "invalid multibulk length");
    }
    if (n > kUnauthenticatedArgs && auth_required_) {
      return Fail(error, "unauthenticated multibulk length");
    }
    request_bytes_ = eol + 2 - pos_;
    pos_ = eol + 2;
    nargs_ = 0;
    if (n <= 0) {  // Redis ignores `*0` and `*-1`
      argv->clear();
      request_bytes_ = 0;
      return Result::kCommand;
    }
    if (args_.capacity() < static_cast<size_t>(std::min<int64_t>(n, 1024))) {
      args_.reserve(static_cast<size_t>(std::min<int64_t>(n, 1024)));
    }
    args_left_ = n;
    bulk_len_ = -1;
    in_multibulk_ = true;
  }
  while (args_left_ > 0) {
    if (bulk_len_ < 0) {
      if (pos_ >= size_) return Result::kNeedMore;
      int64_t len = 0;
      size_t eol = 0;
      bool valid = false;
      Result r = ReadHeader("too big bulk count string", &len, &eol, &valid, error);
      if (r != Result::kCommand) return r;
      if (buf_[pos_] != '$') {
        return Fail(error, std::string("expected '$', got '") + buf_[pos_] + "'");
      }
      if (!valid || len < 0 || static_cast<uint64_t>(len) > limits_.max_bulk_bytes) {
        return Fail(error, "invalid bulk length");
      }
      if (len > kUnauthenticatedBulk && auth_required_) {
        return Fail(error, "unauthenticated bulk length");
      }
      request_bytes_ += eol + 2 - pos_;
      pos_ = eol + 2;
      bulk_len_ = len;
    }
    // As Redis, the two bytes after the argument are skipped, not checked.
    size_t need = static_cast<size_t>(bulk_len_) + 2;
    if (size_ - pos_ < need) return Result::kNeedMore;
    // Reuse the strings (and their capacity) of an earlier request.
    if (nargs_ < args_.size()) {
      args_[nargs_].assign(buf_.data() + pos_, static_cast<size_t>(bulk_len_));
    } else {
      args_.emplace_back(buf_.data() + pos_, static_cast<size_t>(bulk_len_));
    }
    ++nargs_;
    // An argument costs its bytes and its string: many empty ones weigh more than the wire.
    request_bytes_ += need + sizeof(std::string);
    pos_ += need;
    if (request_bytes_ > limits_.max_request_bytes) {
      return Fail(error,
                  "request larger than " + std::to_string(limits_.max_request_bytes) + " bytes");
    }
    bulk_len_ = -1;
    --args_left_;
  }
  in_multibulk_ = false;
  request_bytes_ = 0;
  args_.resize(nargs_);
  argv->swap(args_);  // args_ now holds the previous command's strings, for reuse
  return Result::kCommand;
}

// ---- replies ----

namespace {

void AppendLine(char prefix, std::string_view s, std::string* out) {
  out->push_back(prefix);
  size_t at = out->size();
  out->append(s);
  for (size_t i = at; i < out->size(); ++i) {
    if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';
  }
  out->append("\r\n");
}

void AppendNumberLine(char prefix, int64_t v, std::string* out) {
  char tmp[24];
  tmp[0] = prefix;
  auto [end, ec] = std::to_chars(tmp + 1, tmp + sizeof(tmp) - 2, v);
  (void)ec;  // 20 digits and a sign always fit
  *end++ = '\r';
  *end++ = '\n';
  out->append(tmp, static_cast<size_t>(end - tmp));
}

}  // namespace

void WriteStatus(std::string_view s, std::string* out) { AppendLine('+', s, out); }
void WriteError(std::string_view s, std::string* out) { AppendLine('-', s, out); }
void WriteInteger(int64_t v, std::string* out) { AppendNumberLine(':', v, out); }
void WriteNil(std::string* out) { out->append("$-1\r\n"); }
void WriteArrayHeader(size_t n, std::string* out) {
  AppendNumberLine('*', static_cast<int64_t>(n), out);
}
void WriteBulk(std::string_view s, std::string* out) {
  AppendNumberLine('$', static_cast<int64_t>(s.size()), out);
  out->append(s);
  out->append("\r\n");
}

void WriteReply(const cluster_sim::Reply& reply, std::string* out) {
  using T = cluster_sim::Reply::Type;
  switch (reply.type) {
    case T::kStatus:
      WriteStatus(reply.str, out);
      return;
    case T::kError:
      WriteError(reply.str, out);
      return;
    case T::kInteger:
      WriteInteger(reply.integer, out);
      return;
    case T::kBulk:
      WriteBulk(reply.str, out);
      return;
    case T::kNil:
      WriteNil(out);
      return;
    case T::kNilArray:
      out->append("*-1\r\n");
      return;
    case T::kDouble:  // as Redis's addReplyDouble to a RESP2 client
      WriteBulk(reply.str, out);
      return;
    case T::kBool:
      WriteInteger(reply.integer, out);
      return;
    case T::kArray:
    case T::kMap:
    case T::kSet:
      WriteArrayHeader(reply.elements.size(), out);
      for (const auto& e : reply.elements) WriteReply(e, out);
      return;
  }
}

namespace {

// A RESP3 double: Redis writes inf, -inf and nan in lowercase.
void WriteDouble(std::string_view text, std::string* out) {
  std::string lower = cluster_sim::AsciiLower(text);
  out->push_back(',');
  if (lower == "inf" || lower == "+inf") {
    out->append("inf");
  } else if (lower == "-inf") {
    out->append("-inf");
  } else {
    out->append(text);
  }
  out->append("\r\n");
}

void WriteAggregate(char kind, const cluster_sim::Resp3Value& v, size_t n, std::string* out);

void WriteValue3(const cluster_sim::Resp3Value& v, std::string* out) {
  using K = cluster_sim::Resp3Value::Kind;
  switch (v.kind) {
    case K::kNull:
      out->append("_\r\n");
      return;
    case K::kPlain:
      return WriteReply(*v.plain, out);
    case K::kDouble:
      return WriteDouble(v.text, out);
    case K::kBool:
      out->append(v.plain->integer != 0 ? "#t\r\n" : "#f\r\n");
      return;
    case K::kArray:
      return WriteAggregate('*', v, v.items.size(), out);
    case K::kMap:
      return WriteAggregate('%', v, v.items.size() / 2, out);
    case K::kSet:
      return WriteAggregate('~', v, v.items.size(), out);
  }
}

void WriteAggregate(char kind, const cluster_sim::Resp3Value& v, size_t n, std::string* out) {
  out->push_back(kind);
  out->append(std::to_string(n)).append("\r\n");
  for (const auto& x : v.items) WriteValue3(x, out);
}

}  // namespace

void WriteReply3(const cluster_sim::Reply& reply, Resp3Shape shape, std::string* out) {
  WriteValue3(cluster_sim::TypeResp3(reply, shape), out);
}

void WritePush(const std::vector<cluster_sim::Reply>& items, std::string* out) {
  out->append(">").append(std::to_string(items.size())).append("\r\n");
  for (const auto& item : items) WriteReply3(item, Resp3Shape::kPlain, out);
}

}  // namespace server
