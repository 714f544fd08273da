// The node's HTTP/1.1 server (Boost.Beast behind this header): the
// Civitai-compatible API and the web gallery are handlers on it.
//
// It runs its own io_context on `threads` threads, so a slow listing never
// waits behind gossip and a handler may block briefly (an LMDB read, a
// short wait for the node thread). Handlers are called concurrently from
// those threads and must be thread-safe. Requests are untrusted: sizes are
// bounded (16 KiB of headers, 1 MiB of body but for the uploads below), idle or slow connections time
// out, and a handler's exception becomes a 500, never a crash.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seedbank/protocol/log.h"
#include "seedbank/protocol/result.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

inline constexpr std::size_t kMaxRequestBody = 1u << 20;
// POSTs of images to share (the gallery's forms) may be larger: 16 MiB, the
// most an image travels over gossip (kMaxBlobBytes).
inline constexpr std::string_view kUploadTarget = "/api/seedbank/images";

// Whether an IP address (as HttpRequest::remote holds it) is a loopback one.
bool is_loopback_ip(std::string_view ip);
// Whether a Host header (a name, then maybe ":port") names this machine:
// localhost, *.localhost, 127.x.y.z or [::1].
bool names_this_machine(std::string_view host);
inline constexpr std::size_t kMaxUploadBody = protocol::util::kMaxImageBytes;
// A chunk of a file uploaded to publish (POST /api/seedbank/uploads/ID,
// only from this machine) has a limit of its own: a model of many GB
// arrives as requests of at most 32 MiB each (http/uploads.h).
inline constexpr std::string_view kChunkTarget = "/api/seedbank/uploads/";
inline constexpr std::size_t kMaxChunkBody = 32u << 20;

// The user id that owns the client's end of a connection from this
// machine (`ip` loopback, `port` the client's), from /proc/net/tcp; nullopt
// when it cannot be told. What only the node's own user may ask (a file
// named by its path) is refused to other users of the machine.
std::optional<unsigned> loopback_peer_uid(std::string_view ip, std::uint16_t port);

struct HttpRequest {
  std::string method;  // "GET", "HEAD", "POST", "OPTIONS", ...
  std::string target;  // as sent ("/api/v1/models?limit=2")
  std::string body;
  std::string host;    // the Host header, for absolute URLs in answers
  std::string remote;  // the client's IP address
  std::uint16_t remote_port = 0;
  // Set by browsers: "same-origin", "cross-site", ... (empty from tools).
  std::string sec_fetch_site;
  std::string origin;  // the Origin header, set by browsers on POST
};

// A response body read in pieces while it is sent, possibly while it is
// still arriving (a file being downloaded). Called from one connection at
// a time.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual std::uint64_t size() const = 0;
  // Up to `n` bytes at `offset` into `out`; 0 when none are there yet (the
  // server asks again shortly); an error ends the connection (the client
  // sees a short body, as with any broken download).
  virtual protocol::Result<std::size_t> read(std::uint64_t offset, char* out, std::size_t n) = 0;
  // Bytes readable so far (a download's progress): while it grows the
  // server keeps waiting even when the client's range starts further on.
  virtual std::uint64_t available() const { return size(); }
  // Asked before anything is sent, every 100 ms while it says `wait` (the
  // body is on its way: an image being fetched; the wait holds no thread).
  // `give_up`: the server answers 503 with Retry-After and give_up_reason()
  // instead, so a client never gets a 200 whose body does not come.
  enum class Readiness { ready, wait, give_up };
  virtual Readiness readiness() { return Readiness::ready; }
  virtual std::string give_up_reason() const { return "not available yet"; }
  // Once ready: the Content-Type to send instead of the response's (a body
  // whose type is known only when it is here); empty: the response's.
  virtual std::string content_type() const { return {}; }
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Instead of `body`: the server answers Range requests (206, 416) and
  // HEAD from it, with Accept-Ranges.
  std::shared_ptr<BodySource> source;
  // A strong validator ("\"<sha256>\""): If-None-Match gets 304, and
  // If-Range must match it for a range to be served.
  std::string etag;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpOptions {
  std::string listen = "127.0.0.1:7480";  // HOST:PORT; port 0 picks a free one
  unsigned threads = 2;
  std::size_t max_connections = 1024;  // more are closed at once
  protocol::Log log;                   // downloads cut short are told here
};

class HttpServer {
 public:
  // Binds and starts serving. Error io when the address cannot be bound.
  static protocol::Result<std::unique_ptr<HttpServer>> start(const HttpOptions& options, HttpHandler handler);
  ~HttpServer();  // stops accepting, drops connections, joins its threads
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::string listen_address() const;  // "127.0.0.1:7480"

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedbank::node
