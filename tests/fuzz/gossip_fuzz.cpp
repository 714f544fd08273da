// Fuzzes what a gossip peer controls before and after the handshake: its
// hello and auth bytes, frame headers, and decrypted message plaintexts
// walked the way node/src/gossip.cpp reads them. Must never crash, leak or
// hit UB; Cap'n Proto's limit errors (kj::Exception) are the node's to catch.
#include <cstdint>
#include <cstring>

#include "seedbank/protocol/gossip_message.h"
#include "seedbank/protocol/gossip_session.h"

using namespace seedbank::protocol;

namespace {

const SecretKey& node_key() {
  static SecretKey key = SecretKey::generate();
  return key;
}

void walk(seedbank::schema::GossipMessage::Reader m) {
  using W = seedbank::schema::GossipMessage;
  std::size_t sink = 0;
  auto data_list = [&](capnp::List<capnp::Data>::Reader list) {
    for (auto d : list) sink += d.size();
  };
  switch (m.which()) {
    case W::HELLO:
      sink += m.getHello().getAgent().size() + m.getHello().getGossipPort();
      break;
    case W::HAVE:
      data_list(m.getHave());
      break;
    case W::WANT:
      data_list(m.getWant());
      break;
    case W::RECORDS:
      data_list(m.getRecords());
      break;
    case W::RECONCILE:
      sink += m.getReconcile().size();
      break;
    case W::PEERS:
      for (auto p : m.getPeers()) sink += p.getHost().size() + p.getNodeId().size() + p.getPort();
      break;
    case W::SEEDING:
      data_list(m.getSeeding());
      break;
    case W::QUERY:
      sink += m.getQuery().getHash().size();
      break;
    case W::QUERY_REPLY:
      data_list(m.getQueryReply().getRecords());
      break;
    case W::BYE:
      sink += m.getBye().size();
      break;
    case W::FIND_SEEDERS:
      sink += m.getFindSeeders().size();
      break;
    case W::SEEDERS:
      sink += m.getSeeders().getInfoHash().size();
      for (auto p : m.getSeeders().getPeers()) sink += p.getHost().size() + p.getPort();
      break;
    case W::WANT_BLOB: {
      auto w = m.getWantBlob();
      sink += w.getSha256().size() + w.getRecord().size() + w.getOffset();
      break;
    }
    case W::BLOB: {
      auto b = m.getBlob();
      sink += b.getSha256().size() + b.getData().size() + b.getOffset() + b.getSize() +
              static_cast<std::size_t>(b.getStatus());
      break;
    }
    default:
      break;
  }
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ByteView rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {  // a responder reading an initiator's hello, then its auth
      gossip::Handshake hs(gossip::Handshake::Role::responder, node_key(), "fuzz");
      std::size_t n = std::min<std::size_t>(rest.size(), gossip::kHelloSize);
      if (hs.receive_hello(rest.subspan(0, n))) (void)hs.receive_auth(rest.subspan(n));
      break;
    }
    case 1: {  // frame headers and (unauthentic) bodies
      gossip::SessionKey key{};
      gossip::FrameOpener opener(key);
      if (rest.size() >= gossip::kHeaderSize) {
        auto n = opener.body_size(rest.data());
        if (n) (void)opener.open(rest.data(), rest.subspan(gossip::kHeaderSize));
      }
      break;
    }
    default: {  // a decrypted message
      auto m = gossip::ReceivedMessage::parse(rest);
      if (m) {
        try {
          walk(m->root());
        } catch (const kj::Exception&) {
        }
      }
      break;
    }
  }
  return 0;
}
