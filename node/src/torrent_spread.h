// Private to the torrent files: how a node's upload spreads a release
// through a crowd fetching it.
//
// Initial seeding, for a node that holds a whole torrent. When a crowd
// starts fetching a new release together, each downloader asks the seed
// for the pieces rarest in its own view, which are the same for everyone
// (only the seed has them), and the seed uploads many pieces more than
// once before the crowd holds one copy. This plugin suggests (the fast
// extension's SUGGEST_PIECE) to each interested downloader a few pieces
// that no downloader has, is downloading from this node or was offered,
// and a new one as each is asked for or arrives; when none is left, those
// fewest downloaders have, preferring what the one nearest the end lacks.
// libtorrent's piece picker asks for suggested pieces before the rarest.
// The seed keeps advertising and serving every piece (unlike libtorrent's
// super-seeding, which hides the seed's pieces, slows a lone downloader,
// and in 2.0.8 leaves each new peer idle for 10 s: its first offers fall
// in the handshake, where nothing is sent).
//
// A crowd that arrives over time, whole or not: libtorrent shares a node's
// upload evenly among the peers it unchokes, so the first downloader gets
// a fraction of the seed's upload and finishes late while newcomers take
// pieces it would pass on anyway. When one downloader well behind this
// node is also well ahead of the others behind it, this node chokes those
// others behind it and uploads to it alone; it feeds the next one the same way, a
// chain where each gets the whole upload of the one before it. Details
// and limits at Crowd::choose.
#pragma once

#include <libtorrent/add_torrent_params.hpp>

namespace seedbank::node {

// Adds the plugin to a torrent about to be added (nothing without `ti`);
// its `have_pieces` (resume data) say which pieces this node has.
void spread_pieces(lt::add_torrent_params& atp);

}  // namespace seedbank::node
