#include "server/resp.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "cluster_sim/redis_syntax.h"
#include "cluster_sim/strings.h"

namespace server {

namespace {

// Parses a decimal int64 (optional '-'), the whole of `s`. False on anything else.
bool ParseInt(std::string_view s, int64_t* v) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size();
}

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

size_t RespParser::FindLineEnd() const {
  const char* begin = buf_.data() + pos_;
  const char* end = buf_.data() + size_;
  for (const char* p = begin; p < end;) {
    const void* cr = std::memchr(p, '\r', static_cast<size_t>(end - p));
    if (cr == nullptr) return std::string::npos;
    const char* c = static_cast<const char*>(cr);
    if (c + 1 >= end) return std::string::npos;
    if (c[1] == '\n') return static_cast<size_t>(c - buf_.data());
    p = c + 1;
  }
  return std::string::npos;
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
  const char* begin = buf_.data() + pos_;
  const void* nl = std::memchr(begin, '\n', size_ - pos_);
  if (nl == nullptr) {
    if (buffered() > limits_.max_inline_bytes) return Fail(error, "too big inline request");
    return Result::kNeedMore;
  }
  size_t len = static_cast<size_t>(static_cast<const char*>(nl) - begin);
  if (len > limits_.max_inline_bytes) return Fail(error, "too big inline request");
  std::string_view line(begin, len);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto split = cluster_sim::SplitCommand(line);
  if (!split.ok()) return Fail(error, "unbalanced quotes in request");
  pos_ += len + 1;
  *argv = std::move(split).value();
  return Result::kCommand;
}

RespParser::Result RespParser::ParseMultibulk(std::vector<std::string>* argv, std::string* error) {
  if (!in_multibulk_) {
    int64_t n = 0;
    size_t eol = 0;
    if (!ShortLength(&n, &eol)) {
      eol = FindLineEnd();
      if (eol == std::string::npos) {
        if (buffered() > limits_.max_inline_bytes) return Fail(error, "too big mbulk count string");
        return Result::kNeedMore;
      }
      std::string_view digits(buf_.data() + pos_ + 1, eol - pos_ - 1);
      if (!ParseInt(digits, &n)) return Fail(error, "invalid multibulk length");
    }
    if (n > static_cast<int64_t>(limits_.max_args)) return Fail(error, "invalid multibulk length");
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
      if (buf_[pos_] != '$' || !ShortLength(&len, &eol)) {
        eol = FindLineEnd();
        if (eol == std::string::npos) {
          if (buffered() > limits_.max_inline_bytes) {
            return Fail(error, "too big bulk count string");
          }
          if (buf_[pos_] != '$') {
            return Fail(error, std::string("expected '$', got '") + buf_[pos_] + "'");
          }
          return Result::kNeedMore;
        }
        if (buf_[pos_] != '$') {
          return Fail(error, std::string("expected '$', got '") + buf_[pos_] + "'");
        }
        std::string_view digits(buf_.data() + pos_ + 1, eol - pos_ - 1);
        if (!ParseInt(digits, &len)) return Fail(error, "invalid bulk length");
      }
      if (len < 0 || static_cast<uint64_t>(len) > limits_.max_bulk_bytes) {
        return Fail(error, "invalid bulk length");
      }
      request_bytes_ += eol + 2 - pos_;
      pos_ = eol + 2;
      bulk_len_ = len;
    }
    size_t need = static_cast<size_t>(bulk_len_) + 2;
    if (size_ - pos_ < need) return Result::kNeedMore;
    if (buf_[pos_ + need - 2] != '\r' || buf_[pos_ + need - 1] != '\n') {
      return Fail(error, "expected CRLF after a bulk string");
    }
    // Reuse the strings (and their capacity) of an earlier request.
    if (nargs_ < args_.size()) {
      args_[nargs_].assign(buf_.data() + pos_, static_cast<size_t>(bulk_len_));
    } else {
      args_.emplace_back(buf_.data() + pos_, static_cast<size_t>(bulk_len_));
    }
    ++nargs_;
    request_bytes_ += need;
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
