// Status and Result<T>: how aasim reports expected failures (bad input, an unavailable
// store, a refused command). Shaped like Abseil's Status/StatusOr, kept tiny.
// Broken invariants are not Statuses: they abort through AASIM_CHECK.
// Value types; not thread-safe to share mutable instances.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace cluster_sim {

enum class StatusCode {
  kOk,
  kInvalidArgument,
  kNotFound,
  kFailedPrecondition,
  kUnavailable,
  kInternal
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T>: a T or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result built from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cluster_sim

// AASIM_CHECK(cond) << "context": aborts with file:line when an invariant is broken.
namespace cluster_sim::internal {
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* cond) {
    msg_ = std::string(file) + ":" + std::to_string(line) + ": check failed: " + cond;
  }
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    if constexpr (std::is_convertible_v<T, std::string>) {
      msg_ += " ";
      msg_ += std::string(v);
    } else {
      msg_ += " " + std::to_string(v);
    }
    return *this;
  }
  [[noreturn]] ~CheckFailure() {
    std::fprintf(stderr, "%s\n", msg_.c_str());
    std::fflush(stderr);
    std::abort();
  }

 private:
  std::string msg_;
};
}  // namespace cluster_sim::internal

#define AASIM_CHECK(cond) \
  if (cond) {             \
  } else                  \
    ::cluster_sim::internal::CheckFailure(__FILE__, __LINE__, #cond)

// AASIM_RETURN_IF_ERROR(expr): returns the Status `expr` from the enclosing function unless it
// is ok.
#define AASIM_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::cluster_sim::Status aasim_status_ = (expr);  \
    if (!aasim_status_.ok()) return aasim_status_; \
  } while (0)
