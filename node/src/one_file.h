// Identical bytes are one file, whatever number of releases name them:
// which release speaks for a file when several do (resolve, by-hash, the
// gallery). Private to node/.
//
// Best first: a release signed as the creator's own before mirrors (a
// creator claims mirrors of their work by publishing it); then a release
// by a key this node follows (<data dir>/local.json); then the release
// this node stored first (Index::arrived_ms; createdAt, which the author
// chooses and can back-date, only for releases stored before arrival was
// kept); then by id.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/protocol/record.h"

namespace seedbank::node {

// Releases of one file considered (the index lists them by id): a file
// named by more is decided among the first kMaxClaims. resolve, by-hash
// and downloads all use this bound, so they agree.
inline constexpr std::size_t kMaxClaims = 1024;
// Mirrors looked at when counting those that agree.
inline constexpr std::size_t kMaxAgreeing = 64;

void order_claims(std::vector<protocol::Record>& releases, const indexer::Index& index,
                  const std::filesystem::path& data_dir);

// Releases that name a model file with this SHA-256 (not as an image), in
// claim order, leaving out those `refuses` returns a reason for.
std::vector<protocol::Record> claims_on(const protocol::Sha256Digest& sha256, const indexer::Index& index,
                                        const std::filesystem::path& data_dir,
                                        const std::function<bool(const protocol::Record&)>& refuses = {});

// Other keys' mirrors of the same origin (site, model and version id) with
// the same primary file (its SHA-256): independent mirrors that agree,
// `release` not counted, among the first kMaxAgreeing releases of that
// file. 0 for a release that is no mirror.
std::size_t agreeing_mirrors(const protocol::Record& release, const indexer::Index& index);

}  // namespace seedbank::node
