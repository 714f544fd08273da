#include "torrent_self.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <libtorrent/error_code.hpp>
#include <libtorrent/operations.hpp>
#include <libtorrent/peer_connection_handle.hpp>

#include <cstring>

namespace seedbank::node {
namespace {

// Every address of this host's interfaces (loopback included).
std::vector<lt::address> interface_addresses() {
  std::vector<lt::address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      out.emplace_back(lt::address_v4(ntohl(in->sin_addr.s_addr)));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      lt::address_v6::bytes_type bytes{};
      std::memcpy(bytes.data(), in6->sin6_addr.s6_addr, bytes.size());
      out.emplace_back(lt::address_v6(bytes));  // no scope id: peers name addresses without one
    }
  }
  ::freeifaddrs(list);
  return out;
}

// Closes the connection as soon as it is open, as a self-connection:
// libtorrent then bans the address dialled, in this swarm, for good.
class SelfDial final : public lt::peer_plugin {
 public:
  explicit SelfDial(lt::peer_connection_handle peer) : peer_(std::move(peer)) {}
  void on_connected() override { peer_.disconnect(lt::errors::self_connection, lt::operation_t::bittorrent); }

 private:
  lt::peer_connection_handle peer_;
};

class TorrentSide final : public lt::torrent_plugin {
 public:
  explicit TorrentSide(std::shared_ptr<OwnEndpoints> own) : own_(std::move(own)) {}
  std::shared_ptr<lt::peer_plugin> new_connection(const lt::peer_connection_handle& peer) override {
    if (!peer.is_outgoing() || !own_->is_own(peer.remote())) return nullptr;
    return std::make_shared<SelfDial>(peer);
  }

 private:
  std::shared_ptr<OwnEndpoints> own_;
};

class SessionSide final : public lt::plugin {
 public:
  explicit SessionSide(std::shared_ptr<OwnEndpoints> own) : own_(std::move(own)) {}
  std::shared_ptr<lt::torrent_plugin> new_torrent(const lt::torrent_handle&, lt::client_data_t) override {
    return std::make_shared<TorrentSide>(own_);
  }

 private:
  std::shared_ptr<OwnEndpoints> own_;
};

}  // namespace

void OwnEndpoints::listening(const lt::address& address, std::uint16_t port) {
  std::vector<lt::address> addresses;
  if (address.is_unspecified())
    addresses = interface_addresses();
  else
    addresses.push_back(address);
  std::lock_guard lock(mutex_);
  for (const auto& a : addresses)
    if (a.is_v4() == address.is_v4()) endpoints_.emplace(a, port);
}

void OwnEndpoints::external(const lt::address& address, std::uint16_t port) {
  std::lock_guard lock(mutex_);
  (address.is_v4() ? external_v4_ : external_v6_) = lt::tcp::endpoint(address, port);
}

bool OwnEndpoints::is_own(const lt::tcp::endpoint& endpoint) const {
  std::lock_guard lock(mutex_);
  return endpoints_.count(endpoint) > 0 || (external_v4_ && *external_v4_ == endpoint) ||
         (external_v6_ && *external_v6_ == endpoint);
}

std::shared_ptr<lt::plugin> no_self_dial_plugin(std::shared_ptr<OwnEndpoints> own) {
  return std::make_shared<SessionSide>(std::move(own));
}

}  // namespace seedbank::node
