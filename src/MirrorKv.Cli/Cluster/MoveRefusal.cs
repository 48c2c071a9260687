using System.Net;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Cli.Cluster;

/// <summary>
/// What the mover says when a pair's primary refuses a step of a move for a reason that waiting does not cure (the
/// target's store full, a value over its limit, a page its frames cannot take): which pair refused which slots, what
/// the map keeps meanwhile, and what to change before running the command again. The mover stops at once, as past
/// <c>--etcd-wait</c>: the map keeps the step reached, and any move command run again finishes it first.
/// </summary>
internal static class MoveRefusal
{
    /// <summary>The target's primary refused SLOT_IMPORT of a page of slots <paramref name="first"/>-<paramref name="last"/> (map <paramref name="version"/>, phase copy).</summary>
    public static MoveException Import(MirrorKvException e, string from, string to, IPEndPoint at, int first, int last, ulong version, int copied)
    {
        string kept = Copying(from, first, last, version);
        if (e.Error == MirrorKvError.OutOfMemory)
        {
            return new MoveException(
                $"pair {to}'s store is full: its primary {at} refused the copy of slots {first}-{last} from {from} with OutOfMemory "
                + $"({copied} of the batch's entries were copied before the page that did not fit). {kept} {to} keeps what was copied (its own writes may find the store full too). "
                + $"Make room at {to}, then run the command again: start {to}'s nodes with a larger --max-memory (one at a time, "
                + $"with mirrorkv switchover between: a secondary holds whatever its primary holds), or with --eviction allkeys-lru if "
                + $"the cluster is a cache, or delete keys there; and move fewer slots to {to} (--slots) afterwards.");
        }

        string fix = e.Error == MirrorKvError.ValueTooLarge ? $"start {to}'s nodes with a --max-value-size at least {from}'s" : "fix what it says";
        return new MoveException($"pair {to}'s primary {at} refused the copy of slots {first}-{last} from {from}: {e.Message}. {kept} Then {fix}, and run the command again.");
    }

    /// <summary>The source's primary refused SLOT_EXPORT of slots <paramref name="first"/>-<paramref name="last"/> (map <paramref name="version"/>, phase copy).</summary>
    public static MoveException Export(MirrorKvException e, string from, string to, IPEndPoint at, int first, int last, ulong version)
    {
        // TooLong: the target's frames (sized by its nodes for their largest value) cannot take the source's largest entry.
        string fix = e.WireStatus == WireStatus.TooLong ? $"start {to}'s nodes with a --max-value-size (and --max-memory) at least {from}'s" : "fix what it says";
        return new MoveException($"pair {from}'s primary {at} refused to page out slots {first}-{last} for {to}: {e.Message}. {Copying(from, first, last, version)} Then {fix}, and run the command again.");
    }

    /// <summary>The source's primary refused SLOT_RETIRE of slots <paramref name="first"/>-<paramref name="last"/> (map <paramref name="version"/>, phase handoff).</summary>
    public static MoveException Retire(MirrorKvException e, string from, string to, IPEndPoint at, int first, int last, ulong version) =>
        new($"pair {from}'s primary {at} refused to delete its entries of slots {first}-{last}: {e.Message}. Nothing is lost: {to} holds every entry "
            + $"of them, but neither pair serves them (map version {version}, phase handoff) until the move is finished: fix what it says, and run the command again.");

    // What a move stopped in phase copy leaves: the source serves reads, the fence holds the writes.
    private static string Copying(string from, int first, int last, ulong version) =>
        $"Nothing is lost: {from} still holds every entry of slots {first}-{last} and serves their reads; their writes stay fenced "
        + $"(map version {version}, phase copy) until the move is finished, which a move command run again does first.";
}
