#include "seedbank/protocol/gossip_message.h"

#include <cstring>
#include <string>

namespace seedbank::protocol::gossip {

Result<ReceivedMessage> ReceivedMessage::parse(ByteView plaintext) {
  if (plaintext.size() < 8 || plaintext.size() % 8 != 0)
    return make_error(ErrorCode::malformed, "gossip message is not a whole number of 8-byte words");
  ReceivedMessage m;
  m.words_ = kj::heapArray<capnp::word>(plaintext.size() / 8);
  std::memcpy(m.words_.begin(), plaintext.data(), plaintext.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = plaintext.size() / 8 * 4 + 64;
  options.nestingLimit = 8;
  try {
    m.reader_ = std::make_unique<capnp::FlatArrayMessageReader>(m.words_.asPtr(), options);
    m.root_ = m.reader_->getRoot<schema::GossipMessage>();
    (void)m.root_.which();
  } catch (const kj::Exception& e) {
    return make_error(ErrorCode::malformed,
                      std::string("gossip message does not decode: ") + e.getDescription().cStr());
  }
  return m;
}

Bytes encode(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

}  // namespace seedbank::protocol::gossip
