// A minimal blocking HTTP/1.1 client over a real socket, for tests: one
// request per connection (Connection: close), the whole reply read.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "support/sockaddr.h"

namespace seedbank::testing {

struct HttpReply {
  int status = 0;                              // 0: no reply (connection failed or closed early)
  std::map<std::string, std::string> headers;  // names lowercase
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Sends `raw` bytes to host:port and returns everything until EOF.
// `on_data`, when given, sees what has arrived so far after each read (a
// test can look at the node while a download streams).
inline std::string http_exchange(const std::string& host_port, const std::string& raw, int timeout_s = 60,
                                 const std::function<void(const std::string&)>& on_data = nullptr) {
  sockaddr_in addr = ipv4_address(host_port);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  std::size_t sent = 0;
  while (sent < raw.size()) {
    auto n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (on_data) on_data(out);
  }
  ::close(fd);
  return out;
}

inline HttpReply parse_reply(const std::string& raw) {
  HttpReply r;
  auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  std::size_t at = raw.find("\r\n") + 2;
  while (at < end) {
    auto eol = raw.find("\r\n", at);
    auto line = raw.substr(at, eol - at);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
    }
    at = eol + 2;
  }
  r.body = raw.substr(end + 4);
  return r;
}

inline HttpReply http_request(const std::string& host_port, const std::string& method, const std::string& target,
                              const std::string& body = "",
                              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: " + host_port + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) raw += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST") raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  raw += "\r\n" + body;
  return parse_reply(http_exchange(host_port, raw));
}

inline HttpReply http_get(const std::string& host_port, const std::string& target,
                          const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  return http_request(host_port, "GET", target, "", headers);
}

// GET of a download that may take a while: waits up to `timeout_s` between
// reads, and calls `on_first_bytes` once, when the first bytes of the body
// have arrived (a test can look at the node while the file streams).
// Follows redirects to the same node (the download route answers 307 to
// the file's own URL), as the clients do; the reply is the last one.
inline HttpReply http_download(const std::string& host_port, const std::string& target, int timeout_s,
                               const std::function<void()>& on_first_bytes = nullptr) {
  bool seen = false;
  std::string at = target;
  HttpReply reply;
  for (int hops = 0; hops < 4; ++hops) {
    auto raw =
        http_exchange(host_port, "GET " + at + " HTTP/1.1\r\nHost: " + host_port + "\r\nConnection: close\r\n\r\n",
                      timeout_s, [&](const std::string& so_far) {
                        auto end = so_far.find("\r\n\r\n");
                        if (seen || !on_first_bytes || end == std::string::npos || so_far.size() == end + 4) return;
                        if (so_far.rfind("HTTP/1.1 3", 0) == 0) return;  // a redirect's own body
                        seen = true;
                        on_first_bytes();
                      });
    reply = parse_reply(raw);
    auto location = reply.header("location");
    if (reply.status < 300 || reply.status > 308 || location.empty()) break;
    auto path = location.find("/api/");
    if (path == std::string::npos) break;
    at = location.substr(path);
  }
  return reply;
}

// The SHA-256 of a reply body, lowercase hex (as image `hash`es and ETags
// spell it).
inline std::string sha256_hex(const std::string& bytes) {
  unsigned char d[32];
  unsigned n = 0;
  EVP_Digest(bytes.data(), bytes.size(), d, &n, EVP_sha256(), nullptr);
  return protocol::to_hex(protocol::ByteView(d, 32));
}

// `s` in lowercase (Civitai's hashes are uppercase; URLs and ETags are not).
inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace seedbank::testing
