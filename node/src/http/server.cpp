#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "seedbank/protocol/http_target.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

bool is_loopback_ip(std::string_view ip) {
  if (ip.starts_with("::ffff:")) ip.remove_prefix(7);  // IPv4 on a dual-stack socket
  return ip.starts_with("127.") || ip == "::1";
}

bool names_this_machine(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    if (auto end = host.find(']'); end != std::string_view::npos) host = host.substr(0, end + 1);
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  // 127.x.y.z as digits and dots only: "127.example.com" is a DNS name.
  bool loopback_v4 = host.starts_with("127.") && host.find_first_not_of("0123456789.") == std::string_view::npos;
  return host == "localhost" || host == "[::1]" || loopback_v4 || host.ends_with(".localhost");
}

std::optional<unsigned> loopback_peer_uid(std::string_view ip, std::uint16_t port) {
  if (!is_loopback_ip(ip) || port == 0) return std::nullopt;
  // The client's socket as /proc/net/tcp{,6} writes its local address:
  // each 32-bit word of the address as the machine holds it, in hex, then
  // the port. Both tables are read: a dual-stack socket's client may be
  // either.
  std::string v4(ip.starts_with("::ffff:") ? ip.substr(7) : ip);
  std::vector<std::string> wanted;
  char word[16];
  in_addr a4{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, v4.c_str(), &a4) == 1) {
    std::uint32_t w = 0;
    std::memcpy(&w, &a4, 4);
    std::snprintf(word, sizeof word, "%08X", w);
    wanted.push_back(std::string(word));
    wanted.push_back("0000000000000000FFFF0000" + std::string(word));  // as an IPv4-mapped address
  } else if (::inet_pton(AF_INET6, std::string(ip).c_str(), &a6) == 1) {
    std::string hex;
    for (int i = 0; i < 4; ++i) {
      std::uint32_t w = 0;
      std::memcpy(&w, reinterpret_cast<const unsigned char*>(&a6) + 4 * i, 4);
      std::snprintf(word, sizeof word, "%08X", w);
      hex += word;
    }
    wanted.push_back(hex);
  }
  std::snprintf(word, sizeof word, ":%04X", port);
  for (auto& w : wanted) w += word;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the column names
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits;
      unsigned uid = 0;
      if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid)) continue;
      if (std::find(wanted.begin(), wanted.end(), local) != wanted.end()) return uid;
    }
  }
  return std::nullopt;
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);   // between requests, and to read one
constexpr auto kWriteTimeout = std::chrono::seconds(60);  // for each piece of a response
constexpr auto kStallLimit = std::chrono::minutes(10);    // a download that brings nothing new
constexpr std::size_t kChunk = 256 * 1024;
constexpr std::size_t kLargeBody = 64 * 1024;     // a body past this is read straight into place
constexpr std::size_t kLargeBudget = 256u << 20;  // upload bodies held at once, over every connection

// On every response: no other site may frame these pages (a page that
// framed the gallery under its own button got a click that signed a
// rating), no type is guessed from the bytes, scripts and styles come only
// from this node (the gallery has no inline script or style), and no
// address of this node leaks to the sites its links lead to.
template <class Response>
void security_headers(Response& res) {
  res.set("X-Frame-Options", "DENY");
  res.set("Content-Security-Policy",
          "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
}

std::string json_error(const std::string& message) {
  std::string out = "{\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out + "\"}";
}

}  // namespace

struct HttpServer::Impl {
  HttpOptions options;
  HttpHandler handler;
  // Declared before io: connections still suspended when io is destroyed
  // count themselves out of `open` as their frames are destroyed.
  std::atomic<std::size_t> open{0};
  std::atomic<std::size_t> large_held{0};  // bytes of upload bodies held, over every connection
  std::string listen;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;

  awaitable<void> accept_loop() {
    for (;;) {
      tcp::socket socket(asio::make_strand(io));
      boost::system::error_code ec;
      co_await acceptor.async_accept(socket, asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) {  // out of file descriptors, say: back off instead of spinning
        asio::steady_timer t(io, std::chrono::milliseconds(100));
        co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      if (open.load() >= options.max_connections) {
        socket.close(ec);
        continue;
      }
      auto executor = socket.get_executor();
      asio::co_spawn(executor, serve(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> serve(tcp::socket socket) {
    ++open;
    struct Closed {
      std::atomic<std::size_t>& open;
      ~Closed() { --open; }
    } closed{open};
    boost::system::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    std::string remote = ec ? std::string() : endpoint.address().to_string();
    const std::uint16_t remote_port = ec ? 0 : endpoint.port();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    std::string large;  // a body past kLargeBody, read without the parser
    // What `large` counts against kLargeBudget, given back when it goes.
    struct Held {
      std::atomic<std::size_t>& total;
      std::size_t bytes = 0;
      void release() { total -= std::exchange(bytes, 0); }
      ~Held() { release(); }
    } held{large_held};
    for (;;) {
      http::request_parser<http::string_body> parser;
      bool large_body = false;  // read into `large`, not through the parser
      bool busy = false;        // over kLargeBudget: 503
      parser.header_limit(16 * 1024);
      // Beast checks a Content-Length against the limit as the header
      // ends: the largest limit first, then the route's (the usual one for
      // all but images shared from the gallery and chunks of uploads).
      parser.body_limit(std::max(kMaxUploadBody, kMaxChunkBody));
      stream.expires_after(kIdleTimeout);
      co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (!ec) {
        const auto& head = parser.get();
        std::string_view target(head.target().data(), head.target().size());
        // (Uploads act as the node's user: only from this machine.)
        std::size_t limit = kMaxRequestBody;
        if (head.method() == http::verb::post && is_loopback_ip(remote)) {
          if (target.starts_with(kUploadTarget)) limit = kMaxUploadBody;
          if (target.starts_with(kChunkTarget)) limit = kMaxChunkBody;
        }
        if (parser.content_length() && *parser.content_length() > limit)
          ec = http::error::body_limit;
        else
          parser.body_limit(limit);
        const bool large_body_expected =
            limit > kMaxRequestBody && parser.content_length() && *parser.content_length() > kLargeBody;
        if (!ec && large_body_expected) {
          // An upload from this machine is read straight into place, as
          // much as the socket holds at a time. Beast's parser reads a body
          // through its buffer, at most 64 KiB a time and often 512 bytes:
          // a 16 MiB chunk arrived at 25-100 MB/s that way. (Others keep
          // the parser, which holds no more memory than arrives.) Every
          // connection from this machine may send one: the memory they
          // hold at once is bounded, and a busy node says so.
          const auto length = static_cast<std::size_t>(*parser.content_length());
          if (const std::size_t need = std::max(length, large.capacity()); need > held.bytes) {
            const std::size_t more = need - held.bytes;
            if (large_held.fetch_add(more) + more > kLargeBudget) {
              large_held -= more;
              busy = true;
            } else {
              held.bytes = need;
            }
          }
          if (!busy && beast::iequals(parser.get()[http::field::expect], "100-continue")) {  // curl asks so
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            co_await asio::async_write(stream, asio::buffer(kContinue.data(), kContinue.size()),
                                       asio::redirect_error(use_awaitable, ec));
          }
          if (!busy && !ec) {
            large_body = true;
            if (large.size() != length) {  // else the previous chunk's bytes, all overwritten: no memset
              large.clear();
              large.resize(length);
            }
            if (large.capacity() > held.bytes) {  // (a string may grow past what it was asked for)
              large_held += large.capacity() - held.bytes;
              held.bytes = large.capacity();
            }
            const std::size_t have = std::min(length, buffer.size());
            asio::buffer_copy(asio::buffer(large.data(), have), buffer.data());
            buffer.consume(have);
            if (have < length)
              co_await asio::async_read(stream, asio::buffer(large.data() + have, length - have),
                                        asio::redirect_error(use_awaitable, ec));
          }
        } else if (!ec) {
          co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
        }
      }
      if (busy) {
        http::response<http::string_body> later{http::status::service_unavailable, 11};
        later.set(http::field::content_type, "application/json; charset=utf-8");
        later.set(http::field::retry_after, "2");
        security_headers(later);
        later.body() = json_error("the node is taking in " + std::to_string(kLargeBudget >> 20) +
                                  " MiB of uploads already; send this one again in a moment");
        later.keep_alive(false);
        later.prepare_payload();
        stream.expires_after(kWriteTimeout);
        co_await http::async_write(stream, later, asio::redirect_error(use_awaitable, ec));
        break;
      }
      if (ec == http::error::body_limit) {
        http::response<http::string_body> big{http::status::payload_too_large, 11};
        big.set(http::field::content_type, "application/json; charset=utf-8");
        security_headers(big);
        big.body() =
            json_error("the request body is too large: at most " + std::to_string(kMaxRequestBody) + " bytes, " +
                       std::to_string(kMaxUploadBody) + " for " + std::string(kUploadTarget) + " or " +
                       std::to_string(kMaxChunkBody) + " for a chunk (" + std::string(kChunkTarget) + "ID)");
        big.keep_alive(false);
        big.prepare_payload();
        stream.expires_after(kWriteTimeout);
        co_await http::async_write(stream, big, asio::redirect_error(use_awaitable, ec));
        break;
      }
      if (ec) {
        if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message) {
          // Malformed: say so (best effort) and close.
          http::response<http::string_body> bad{http::status::bad_request, 11};
          bad.set(http::field::content_type, "application/json; charset=utf-8");
          security_headers(bad);
          bad.body() = json_error("malformed HTTP request: " + ec.message());
          bad.keep_alive(false);
          bad.prepare_payload();
          stream.expires_after(kWriteTimeout);
          co_await http::async_write(stream, bad, asio::redirect_error(use_awaitable, ec));
        }
        break;
      }
      auto& req = parser.get();
      HttpRequest request;
      request.method = std::string(req.method_string());
      request.target = std::string(req.target());
      if (large_body)
        request.body.swap(large);
      else
        request.body = std::move(req.body());
      request.host = std::string(req[http::field::host]);
      request.sec_fetch_site = std::string(req["Sec-Fetch-Site"]);
      request.origin = std::string(req[http::field::origin]);
      request.remote = remote;
      request.remote_port = remote_port;
      HttpResponse response;
      try {
        response = handler(request);
      } catch (const std::exception& e) {
        response = HttpResponse{};
        response.status = 500;
        response.body = json_error(std::string("internal error: ") + e.what());
      }
      // The next chunk on this connection reuses the memory: fresh pages
      // cost a fault each, which took as long as the copy from the socket.
      // Only after a chunk that was taken, and only until another kind of
      // request comes (the gallery polls a publish job on it).
      if (large_body && response.status == 200) {
        large.swap(request.body);
      } else {
        large = std::string();
        request.body = std::string();
        held.release();
      }
      bool keep = req.keep_alive();
      bool ok = co_await respond(stream, req, response, keep);
      if (!ok || !keep) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  template <class Response>
  static void common_headers(Response& res, const HttpResponse& response, bool keep, unsigned version) {
    res.version(version);
    res.keep_alive(keep);
    res.set(http::field::server, "seedbank");
    security_headers(res);
    if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
    if (!response.etag.empty()) res.set(http::field::etag, response.etag);
    for (const auto& [name, value] : response.headers) res.set(name, value);
  }

  // Writes the response; false when the connection must close.
  awaitable<bool> respond(beast::tcp_stream& stream, const http::request<http::string_body>& req,
                          HttpResponse& response, bool keep) {
    boost::system::error_code ec;
    const bool head = req.method() == http::verb::head;
    if (!response.etag.empty() && response.status == 200) {
      auto inm = req[http::field::if_none_match];
      if (!inm.empty() &&
          (inm == response.etag || inm == "*" || std::string(inm).find(response.etag) != std::string::npos)) {
        http::response<http::empty_body> res{http::status::not_modified, req.version()};
        common_headers(res, response, keep, req.version());
        res.erase(http::field::content_type);
        stream.expires_after(kWriteTimeout);
        co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
        co_return !ec;
      }
    }
    if (!response.source) {
      http::response<http::string_body> res{static_cast<http::status>(response.status), req.version()};
      common_headers(res, response, keep, req.version());
      res.body() = std::move(response.body);
      res.prepare_payload();
      if (head) {
        // The length of the body a GET would get, without it.
        http::response<http::empty_body> h{res.result(), req.version()};
        h.base() = res.base();
        stream.expires_after(kWriteTimeout);
        http::response_serializer<http::empty_body> sr{h};
        co_await http::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
        co_return !ec;
      }
      stream.expires_after(kWriteTimeout);
      co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
      co_return !ec;
    }

    // A body on its way: hold the answer until it is here, or answer 503.
    for (asio::steady_timer hold(stream.get_executor());;) {
      auto state = response.source->readiness();
      if (state == BodySource::Readiness::ready) break;
      if (state == BodySource::Readiness::give_up) {
        http::response<http::string_body> later{http::status::service_unavailable, req.version()};
        common_headers(later, response, keep, req.version());
        later.erase(http::field::etag);
        later.set(http::field::content_type, "application/json; charset=utf-8");
        later.set(http::field::retry_after, "2");
        later.body() = json_error(response.source->give_up_reason());
        later.prepare_payload();
        stream.expires_after(kWriteTimeout);
        co_await http::async_write(stream, later, asio::redirect_error(use_awaitable, ec));
        co_return !ec;
      }
      hold.expires_after(std::chrono::milliseconds(100));
      co_await hold.async_wait(asio::redirect_error(use_awaitable, ec));
      if (ec) co_return false;
    }

    if (auto type = response.source->content_type(); !type.empty()) response.content_type = type;

    // A body from a source: whole, or the one range asked for.
    const std::uint64_t size = response.source->size();
    std::uint64_t first = 0, last = size ? size - 1 : 0, length = size;
    http::response<http::empty_body> res{http::status::ok, req.version()};
    common_headers(res, response, keep, req.version());
    res.set(http::field::accept_ranges, "bytes");
    std::optional<protocol::ByteRange> range;
    if (response.status == 200 && req.count(http::field::range)) {
      auto if_range = req[http::field::if_range];
      if (if_range.empty() || if_range == response.etag)
        range = protocol::parse_range(std::string(req[http::field::range]), size);
    }
    if (range && range->unsatisfiable) {
      http::response<http::string_body> bad{http::status::range_not_satisfiable, req.version()};
      common_headers(bad, response, keep, req.version());
      bad.set(http::field::content_range, "bytes */" + std::to_string(size));
      bad.set(http::field::content_type, "application/json; charset=utf-8");
      bad.body() = json_error("range not satisfiable: the file has " + std::to_string(size) + " bytes");
      bad.prepare_payload();
      stream.expires_after(kWriteTimeout);
      co_await http::async_write(stream, bad, asio::redirect_error(use_awaitable, ec));
      co_return !ec;
    }
    if (range) {
      first = range->first;
      last = range->last;
      length = last - first + 1;
      res.result(http::status::partial_content);
      res.set(http::field::content_range,
              "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
    } else {
      res.result(static_cast<http::status>(response.status));
    }
    res.content_length(length);
    {
      http::response_serializer<http::empty_body> sr{res};
      stream.expires_after(kWriteTimeout);
      co_await http::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
      if (ec) co_return false;
    }
    if (head || length == 0) co_return true;
    std::vector<char> chunk(kChunk);
    std::uint64_t at = first, end = first + length;
    auto last_progress = std::chrono::steady_clock::now();
    std::uint64_t last_available = response.source->available();
    asio::steady_timer wait(stream.get_executor());
    while (at < end) {
      auto n =
          response.source->read(at, chunk.data(), static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, end - at)));
      if (!n) {  // the source failed: a short body tells the client
        options.log.warn("HTTP " + std::string(req.target()) + " stopped at byte " + std::to_string(at) + ": " +
                         n.error().message);
        co_return false;
      }
      if (*n == 0) {
        if (auto available = response.source->available(); available > last_available) {
          last_available = available;  // the download moves, just not at this range yet
          last_progress = std::chrono::steady_clock::now();
        }
        if (std::chrono::steady_clock::now() - last_progress > kStallLimit) co_return false;
        wait.expires_after(std::chrono::milliseconds(100));
        co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      last_progress = std::chrono::steady_clock::now();
      stream.expires_after(kWriteTimeout);
      co_await asio::async_write(stream, asio::buffer(chunk.data(), *n), asio::redirect_error(use_awaitable, ec));
      if (ec) co_return false;
      at += *n;
    }
    co_return true;
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  boost::system::error_code ec;
  asio::post(impl_->io, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
}

protocol::Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpOptions& options, HttpHandler handler) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  auto listen = protocol::util::parse_host_port(options.listen, true);
  if (!listen) return protocol::make_error(protocol::ErrorCode::invalid_argument, "--http " + listen.error().message);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(listen->host, ec);
  auto port = listen->port;
  if (ec)
    return protocol::make_error(
        protocol::ErrorCode::invalid_argument,
        "--http '" + options.listen + "' is not HOST:PORT with an IP address (e.g. 127.0.0.1:7480)");
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return protocol::make_error(protocol::ErrorCode::io, "cannot serve HTTP on " + options.listen + ": " +
                                                             ec.message() +
                                                             "; pick another address with --http, or --http off");
  auto bound = impl->acceptor.local_endpoint();
  impl->listen = (bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string()) +
                 ":" + std::to_string(bound.port());
  asio::co_spawn(impl->io, impl->accept_loop(), asio::detached);
  auto* raw = impl.get();
  for (unsigned i = 0; i < std::max(1u, options.threads); ++i) raw->threads.emplace_back([raw] { raw->io.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::string HttpServer::listen_address() const { return impl_->listen; }

}  // namespace seedbank::node
