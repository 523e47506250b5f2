// RESP2 framing: an incremental request parser and a reply writer.
//
// RespParser reads what clients send a Redis server: multibulk requests
// (`*<n>\r\n$<len>\r\n<bytes>\r\n...`) and inline commands (a line split with redis-cli's
// quoting rules). Bytes are appended as they arrive (Append, or Prepare/Commit to read
// straight into the buffer) and Next() yields one whole command at a time, keeping its
// place inside a partly received request so a large request is never re-scanned.
//
// Framing is Redis 7.0's (networking.c), rule for rule, including its leniencies: a
// length is "0" or an optional '-' then digits without a leading zero (no '+', nothing
// empty, within int64); a header line ends at its first CR and the byte after that CR is
// skipped unread, as are the two bytes after a bulk argument; a NUL byte before the end of
// a line hides the end (Redis searches with strchr), so the line waits for more; `*0` and
// negative counts are ignored, a negative bulk length is an error; only a line that has no
// end yet is judged by its length (so a long line arriving in several reads fails as in
// Redis). Without AUTH (RequireAuth(true)), at most 10 arguments of 16KB, as Redis.
//
// Limits (RespLimits; Redis's defaults in brackets): at most `max_args` arguments per
// request [INT_MAX, Redis 7.0's bound], `max_bulk_bytes` per argument [proto-max-bulk-len,
// 512MB], `max_inline_bytes` per inline line or length header still without its end
// [64KB], `max_request_bytes` for one whole request, counting each argument's string
// object [client-query-buffer-limit, 1GB; ours 256MB]. The parser never reserves more
// than it has received, so a huge declared length costs nothing until the bytes come.
// A request breaking a rule is a protocol error: Next() returns kError with Redis's text
// ("Protocol error: invalid bulk length"), and the stream cannot be resynchronised: the
// connection answers `-ERR <text>` and closes, as Redis does.
//
// Value types; not thread-safe; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_sim/client.h"
#include "cluster_sim/resp3.h"

namespace server {

struct RespLimits {
  size_t max_args = 2147483647;
  size_t max_bulk_bytes = size_t{512} << 20;
  size_t max_inline_bytes = size_t{64} << 10;
  size_t max_request_bytes = size_t{256} << 20;
};

class RespParser {
 public:
  enum class Result { kCommand, kNeedMore, kError };

  explicit RespParser(RespLimits limits = {}) : limits_(limits) {}

  // Appends received bytes.
  void Append(std::string_view bytes);
  // Room for at least `n` more bytes at the end of the buffer; write into it, then
  // Commit(k) the k bytes actually written.
  char* Prepare(size_t n);
  void Commit(size_t n);

  // Parses the next command into *argv (replaced). kNeedMore: nothing complete yet (argv
  // untouched). kError: *error says why; the parser is then stuck in the error state.
  Result Next(std::vector<std::string>* argv, std::string* error);

  // Bytes received and not yet consumed by a complete command.
  size_t buffered() const { return size_ - pos_; }
  bool failed() const { return failed_; }
  // Whether the client has yet to authenticate (then Redis's tighter limits apply to the
  // requests parsed from now on).
  void RequireAuth(bool required) { auth_required_ = required; }

 private:
  Result Fail(std::string* error, std::string text);
  Result ParseInline(std::vector<std::string>* argv, std::string* error);
  Result ParseMultibulk(std::vector<std::string>* argv, std::string* error);
  // The first `c` from pos_, npos if absent or if a NUL byte comes before it.
  size_t FindFrom(char c) const;
  // The length after the type byte at pos_ and where its "\r\n" is, if that line is 1 to
  // 18 digits without a leading zero and "\r\n" (as clients send it); false for anything
  // else, which ReadHeader then judges in full.
  bool ShortLength(int64_t* n, size_t* eol) const;
  // Reads the header line at pos_ (type byte, length, line end). kCommand: the line has
  // ended, *eol is where its CR is, *valid whether it holds a length, *n that length;
  // kNeedMore: the line has not ended yet; kError: a line without end longer than
  // max_inline_bytes (the error `too_big`).
  Result ReadHeader(const char* too_big, int64_t* n, size_t* eol, bool* valid, std::string* error);
  void Compact();

  RespLimits limits_;
  std::string buf_;
  size_t pos_ = 0;   // first byte not consumed
  size_t size_ = 0;  // bytes of buf_ in use (buf_ may be larger after Prepare)
  bool failed_ = false;
  bool auth_required_ = false;
  // A multibulk request being parsed.
  bool in_multibulk_ = false;
  int64_t args_left_ = 0;          // arguments still to read
  int64_t bulk_len_ = -1;          // length of the argument being read, -1: read its header first
  size_t request_bytes_ = 0;       // bytes of the current request already consumed
  std::vector<std::string> args_;  // arguments of the request being parsed
  size_t nargs_ = 0;               // how many of args_ are filled
};

// Appends the RESP2 encoding of `reply` to *out. Status and error texts have CR and LF
// replaced by spaces (they are one line on the wire).
void WriteReply(const cluster_sim::Reply& reply, std::string* out);
void WriteStatus(std::string_view s, std::string* out);
void WriteError(std::string_view s, std::string* out);
void WriteInteger(int64_t v, std::string* out);
void WriteBulk(std::string_view s, std::string* out);
void WriteNil(std::string* out);
void WriteArrayHeader(size_t n, std::string* out);

// ---- RESP3 (HELLO 3) ----
// aasim's replies are RESP2-shaped (cluster_sim::Reply); under RESP3 a command's reply is
// typed as Redis 7 types it at the source (cluster_sim/resp3.h: Resp3ShapeOf).
using cluster_sim::Resp3Shape;
using cluster_sim::Resp3ShapeOf;
// Appends the RESP3 encoding of `reply` shaped as `shape`. Errors and statuses are as in
// RESP2.
void WriteReply3(const cluster_sim::Reply& reply, Resp3Shape shape, std::string* out);
// A RESP3 push (`>`) of `items` (pub/sub messages and confirmations).
void WritePush(const std::vector<cluster_sim::Reply>& items, std::string* out);

}  // namespace server
