// Result<T>: a value or an Error that says what was wrong and what to do.
//
// Every function that reads untrusted input (files, peers, users) returns a
// Result instead of throwing. Assertions are for bugs only.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace seedbank::protocol {

enum class ErrorCode {
  invalid_argument,  // the caller (a user) passed something malformed
  io,                // a file could not be read or written
  malformed,         // bytes that do not parse as the format they claim
  limit,             // a size, count or depth limit was exceeded
  bad_signature,     // a signature did not verify
  not_found,
  ambiguous,
  unsafe,    // a format that can run code when loaded
  conflict,  // contradicts what is already stored
  refused,   // valid, but this node's policy turned it down (spam limits, work stamp)
  // Valid, but this node cannot act on it (a record kind or feature of a
  // newer Seedbank). Never the sender's fault: never a reason to ban a peer.
  unsupported,
  internal,
};

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;  // one sentence a user can act on: what, where, how to fix
};

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }

 private:
  std::variant<T, Error> state_;
};

// Result<void>.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace seedbank::protocol
