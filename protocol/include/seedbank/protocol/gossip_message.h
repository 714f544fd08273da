// Gossip messages (schemas/gossip.capnp) to and from frame plaintexts.
// Reading is bounded: a traversal limit proportional to the frame and a
// small nesting limit, so a crafted message cannot amplify work; the
// caller still checks every field's size where it uses it.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <memory>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"
#include "seedbank/schemas/gossip.capnp.h"

namespace seedbank::protocol::gossip {

class ReceivedMessage {
 public:
  // Error malformed for bytes that are not a GossipMessage.
  static Result<ReceivedMessage> parse(ByteView plaintext);
  schema::GossipMessage::Reader root() const { return root_; }

 private:
  kj::Array<capnp::word> words_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
  schema::GossipMessage::Reader root_;
};

// The frame plaintext of a built message.
Bytes encode(capnp::MessageBuilder& message);

}  // namespace seedbank::protocol::gossip
