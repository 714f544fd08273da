// The seedbank executable: parses the command line and runs one command.
#include "cli/cli.h"
#include "cli/terminal_output.h"

int main(int argc, char** argv) {
  using namespace seedbank::node::cli;
  TerminalSafeStreams terminal_safe;  // peers' text never reaches the terminal raw
  CLI::App app{"seedbank: a peer-to-peer hub for generative-AI models"};
  app.require_subcommand(1);
  Context ctx;
  app.add_option("--data-dir", ctx.global.data_dir,
                 "Node state folder (default $SEEDBANK_DATA_DIR, else ~/.local/share/seedbank)");
  app.add_option("--network", ctx.global.network, "Network id; records never cross networks (default main)");
  app.add_option("--index-size", ctx.global.index_size,
                 "Size limit of the index (bytes, or with a unit: 64GiB, 500MB); default indexSize in config.json, "
                 "else 64 GiB. The file grows as needed up to it")
      ->transform(CLI::AsSizeValue(true));
  add_hash_command(app, ctx);
  add_inspect_command(app, ctx);
  add_key_commands(app, ctx);
  add_node_command(app, ctx);
  add_publish_commands(app, ctx);
  add_fetch_commands(app, ctx);
  add_resolve_command(app, ctx);
  add_share_command(app, ctx);
  add_community_commands(app, ctx);
  add_collection_commands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }
  return ctx.exit_code;
}
