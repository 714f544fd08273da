#include <boost/test/unit_test.hpp>

#include "seedbank/protocol/gossip_session.h"
#include "support/require_ok.h"

using namespace seedbank::protocol;
using namespace seedbank::protocol::gossip;

namespace {

struct Pair {
  SecretKey ik = SecretKey::generate(), rk = SecretKey::generate();
  Handshake i{Handshake::Role::initiator, ik, "test"};
  Handshake r{Handshake::Role::responder, rk, "test"};
  void exchange_hellos() {
    SB_REQUIRE_OK(i.receive_hello(ByteView(r.hello().data(), r.hello().size())));
    SB_REQUIRE_OK(r.receive_hello(ByteView(i.hello().data(), i.hello().size())));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(gossip_session_test)

BOOST_AUTO_TEST_CASE(both_sides_learn_each_others_node_key_and_share_keys) {
  Pair p;
  p.exchange_hellos();
  auto ri = p.r.receive_auth(p.i.auth(p.ik));
  SB_REQUIRE_OK(ri);
  BOOST_TEST((*ri == p.ik.public_key()));
  auto ir = p.i.receive_auth(p.r.auth(p.rk));
  SB_REQUIRE_OK(ir);
  BOOST_TEST((*ir == p.rk.public_key()));
  BOOST_TEST((p.i.send_key() == p.r.receive_key()));
  BOOST_TEST((p.r.send_key() == p.i.receive_key()));
  BOOST_TEST((p.i.send_key() != p.i.receive_key()));

  FrameSealer seal(p.i.send_key());
  FrameOpener open(p.r.receive_key());
  for (std::string text : {"first", "", "third frame"}) {
    Bytes frame;
    seal.seal(as_bytes(text), &frame);
    auto n = open.body_size(frame.data());
    SB_REQUIRE_OK(n);
    BOOST_REQUIRE_EQUAL(*n + kHeaderSize, frame.size());
    auto plain = open.open(frame.data(), ByteView(frame).subspan(kHeaderSize));
    SB_REQUIRE_OK(plain);
    BOOST_TEST(std::string(plain->begin(), plain->end()) == text);
  }
}

BOOST_AUTO_TEST_CASE(another_network_or_protocol_fails_at_hello) {
  auto k = SecretKey::generate();
  Handshake main(Handshake::Role::initiator, k, "main");
  Handshake test(Handshake::Role::responder, k, "test");
  auto st = test.receive_hello(ByteView(main.hello().data(), main.hello().size()));
  BOOST_REQUIRE(!st.ok());
  BOOST_TEST((st.error().code == ErrorCode::conflict));
  Bytes http = {'G', 'E', 'T', ' '};
  http.resize(kHelloSize, 'x');
  BOOST_TEST(!test.receive_hello(http).ok());
}

BOOST_AUTO_TEST_CASE(an_auth_from_another_session_or_key_is_refused) {
  Pair p, q;
  p.exchange_hellos();
  q.exchange_hellos();
  // Replaying an initiator's auth from session q into session p fails.
  BOOST_TEST(!p.r.receive_auth(q.i.auth(q.ik)).ok());
  // A signature by another key under the claimed key fails.
  auto auth = p.i.auth(p.ik);
  auto other = SecretKey::generate();
  std::copy(other.public_key().bytes.begin(), other.public_key().bytes.end(), auth.begin());
  BOOST_TEST(!p.r.receive_auth(auth).ok());
  // The responder's auth does not pass as the initiator's (roles are signed).
  BOOST_TEST(!p.i.receive_auth(p.i.auth(p.ik)).ok());
}

BOOST_AUTO_TEST_CASE(tampered_replayed_or_oversize_frames_are_refused) {
  Pair p;
  p.exchange_hellos();
  FrameSealer seal(p.i.send_key());
  Bytes a, b;
  seal.seal(as_bytes("one"), &a);
  seal.seal(as_bytes("two"), &b);
  {
    FrameOpener open(p.r.receive_key());
    auto t = a;
    t.back() ^= 1;
    BOOST_TEST(!open.open(t.data(), ByteView(t).subspan(kHeaderSize)).ok());
  }
  {
    FrameOpener open(p.r.receive_key());
    auto early = open.open(b.data(), ByteView(b).subspan(kHeaderSize));
    BOOST_TEST(!early.ok());  // out of order
    auto first = open.open(a.data(), ByteView(a).subspan(kHeaderSize));
    SB_REQUIRE_OK(first);
    auto again = open.open(a.data(), ByteView(a).subspan(kHeaderSize));
    BOOST_TEST(!again.ok());  // replayed
  }
  FrameOpener open(p.r.receive_key(), 1024);
  std::uint8_t big[4] = {0, 0, 0x04, 0x11};  // 1,041 bytes: 1,025 of plaintext
  auto n = open.body_size(big);
  BOOST_REQUIRE(!n.ok());
  BOOST_TEST((n.error().code == ErrorCode::limit));
  std::uint8_t tiny[4] = {0, 0, 0, 3};
  BOOST_TEST(!open.body_size(tiny).ok());
}

BOOST_AUTO_TEST_SUITE_END()
