// The gossip layer's constants, in one place: sizes and counts a peer can
// make this node hold, and the times it waits.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace seedbank::node::gossip {

constexpr std::uint32_t kVersion = 1;
// Hello.features bits (schemas/gossip.capnp).
constexpr std::uint64_t kFeatureKeepsUnknownKinds = 1;  // bit 0
// What this node says it does: it keeps records of kinds it does not know.
constexpr std::uint64_t kFeatures = kFeatureKeepsUnknownKinds;

constexpr std::size_t kMaxIds = 8192;               // ids in one have/want message
constexpr std::size_t kRecordsPerFrame = 1u << 20;  // bytes of records in one message
constexpr std::size_t kQueueLow = 4u << 20;         // refill pushes below this
constexpr std::size_t kMaxQueued = 48u << 20;       // a peer that reads slower is dropped
constexpr std::size_t kMaxPushQueue = 2'000'000;    // ids waiting to be sent to one peer
constexpr std::size_t kMaxSeeding = 200'000;        // info-hashes one peer may claim
constexpr std::size_t kMaxKnown = 2000;             // addresses remembered
constexpr std::size_t kIngestBatch = 8000;          // records gathered into one index commit
constexpr std::size_t kIngestBytes = 16u << 20;     // or bytes of records (a session's batch)
constexpr std::size_t kMaxIngestBytes = 64u << 20;  // records held to be stored, all sessions: over it, reads wait
constexpr std::size_t kMaxInFlight = 500'000;       // ids requested and not yet received, all peers
constexpr std::size_t kMaxPerAddress = 8;           // sessions from one (non-loopback) IP address
constexpr std::size_t kMaxBans = 100'000;
constexpr std::size_t kMaxReplyBytes = 2u << 20;  // records in one query reply
constexpr std::size_t kMaxBlobFetches = 4;        // images fetched at once; more wait in a queue
constexpr std::size_t kMaxBlobQueue = 1024;
constexpr auto kBlobAnswerTimeout = std::chrono::seconds(20);
constexpr auto kBlobPatience = std::chrono::seconds(120);  // how long peers that are fetching it are waited for
constexpr auto kBlobRetry = std::chrono::seconds(3);
constexpr auto kBlobFailedFor = std::chrono::seconds(30);  // a fetch that found no peer is not retried sooner
constexpr auto kBlobGrace = std::chrono::seconds(10);      // a relay's own fetch says "later" this long without bytes
constexpr std::size_t kMaxBlobsPerAuthor = 32;             // fetching or waiting, images named by one author's records
constexpr std::size_t kMaxKnownImages = 200000;            // remembered image -> record, for fetches on demand
constexpr std::size_t kPeersPerMessage = 32;
constexpr std::size_t kLearntPerSession = 4 * kPeersPerMessage;  // new addresses one session may teach
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kFrameTimeout = std::chrono::seconds(30);
constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr auto kPingEvery = std::chrono::seconds(30);
constexpr auto kInFlightTimeout = std::chrono::seconds(30);
constexpr double kMessagesPerSecond = 1000, kMessageBurst = 4000;
constexpr double kBytesPerSecond = 96.0 * (1 << 20), kByteBurst = 192.0 * (1 << 20);
constexpr std::uint32_t kMaxRefusedPerSession = 1000;

}  // namespace seedbank::node::gossip
