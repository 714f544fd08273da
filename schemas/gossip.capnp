@0xd8e1a26e9687cb53;
# Messages between Seedbank nodes, one per encrypted frame of a gossip
# session (docs/protocol.md, "Gossip"). Records inside travel as the bytes
# of their canonical SignedRecord and are verified one by one on arrival.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("seedbank::schema");

struct GossipMessage {
  union {
    hello @0 :Hello;
    # Record ids the sender has (new ones, announced once).
    have @1 :List(Data);
    # Record ids the sender asks for.
    want @2 :List(Data);
    # Records, each a canonical SignedRecord.
    records @3 :List(Data);
    # One set reconciliation message (protocol/reconcile.h).
    reconcile @4 :Data;
    # Addresses of other nodes.
    peers @5 :List(PeerAddress);
    # v2 info-hashes (32 bytes) the sender seeds completely, on its
    # BitTorrent port from hello.
    seeding @6 :List(Data);
    # Any hash the sender's index does not know (see Index::find_by_hash).
    query @7 :Query;
    queryReply @8 :QueryReply;
    # Keep-alive; also asks for nothing.
    ping @9 :Void;
    # The sender is closing the session, and why.
    bye @10 :Text;
    # Who seeds this v2 info-hash (32 bytes)? Answered with `seeders`.
    findSeeders @11 :Data;
    seeders @12 :Seeders;
    # Asks for part of a small file a record names (an image post's image,
    # a profile's avatar, a release's sample image) by its SHA-256.
    wantBlob @13 :WantBlob;
    # The answer to wantBlob.
    blob @14 :Blob;
  }
}

struct WantBlob {
  sha256 @0 :Data;          # 32 bytes
  record @1 :Data;          # id of a record that names it
  offset @2 :UInt64;        # first byte wanted; answers hold at most 1 MiB
}

enum BlobStatus {
  ok @0;                    # `data` holds bytes from `offset`
  later @1;                 # the sender is fetching it, or busy: ask again in a few seconds
  unknown @2;               # the sender does not have it and will not fetch it
}

struct Blob {
  sha256 @0 :Data;
  offset @1 :UInt64;
  size @2 :UInt64;          # the whole file's size (with `ok`)
  data @3 :Data;
  status @4 :BlobStatus;
}

struct Seeders {
  infoHash @0 :Data;        # 32 bytes
  # BitTorrent endpoints known to seed it; an empty host means the sender's
  # own address (it seeds it itself).
  peers @1 :List(PeerAddress);
}

struct Hello {
  version @0 :UInt32;       # 1
  agent @1 :Text;           # "seedbank/0.1"
  gossipPort @2 :UInt16;    # where the sender accepts sessions; 0 if it does not
  btPort @3 :UInt16;        # its BitTorrent port; 0 if none
  records @4 :UInt64;       # how many records it holds (informational)
  features @5 :UInt64;      # what the sender does beyond version 1, one bit each:
                            #   bit 0: it keeps and relays records of kinds it does not know
                            # Unknown bits are ignored; 0 from nodes that predate the field.
}

struct PeerAddress {
  host @0 :Text;            # IPv4 or IPv6 literal
  port @1 :UInt16;
  nodeId @2 :Data;          # 32-byte Ed25519 node key, when known
}

struct Query {
  id @0 :UInt32;            # echoed in the reply
  hash @1 :Text;
}

struct QueryReply {
  id @0 :UInt32;
  records @1 :List(Data);   # matching releases, at most 16
}
