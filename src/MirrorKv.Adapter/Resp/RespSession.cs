using System.Buffers;
using System.Diagnostics;
using MirrorKv.Transport;

namespace MirrorKv.Adapter.Resp;

/// <summary>What the node knows about one RESP connection, kept in <c>IConnection.State</c>.</summary>
internal sealed class RespSession
{
    public RespSession(long id, RespOutput output, bool authenticated)
    {
        Id = id;
        Output = output;
        Authenticated = authenticated;
        Scratch = _ownScratch;
        Copy = _ownCopy;
    }

    /// <summary>CLIENT ID: unique among this node's RESP connections since start.</summary>
    public long Id { get; }

    public RespOutput Output { get; }

    public IConnection Connection => Output.Connection;

    /// <summary>When the connection was accepted: the AUTH deadline and CLIENT INFO's age count from here.</summary>
    public long OpenedAt { get; } = Stopwatch.GetTimestamp();

    /// <summary>When the last batch of commands arrived (CLIENT INFO's idle).</summary>
    public long LastCommandAt { get; set; } = Stopwatch.GetTimestamp();

    /// <summary>The last command's name (CLIENT INFO's cmd).</summary>
    public string LastCommand { get; set; } = "NULL";

    /// <summary>True once AUTH (or HELLO ... AUTH) proved the secret; from the start when the node has none.</summary>
    public bool Authenticated { get; set; }

    /// <summary>CLIENT SETNAME.</summary>
    public string? Name { get; set; }

    /// <summary>CLIENT SETINFO LIB-NAME and LIB-VER.</summary>
    public string? LibraryName { get; set; }

    public string? LibraryVersion { get; set; }

    /// <summary>
    /// Sentinel port: the channels (SUBSCRIBE) and glob patterns (PSUBSCRIBE) this connection listens to; while
    /// any, it is in subscribed mode. Changed by the receive thread under <see cref="PushLock"/>, read by the
    /// notifier under it.
    /// </summary>
    public List<byte[]> Channels { get; } = [];

    /// <inheritdoc cref="Channels"/>
    public List<byte[]> Patterns { get; } = [];

    /// <summary>
    /// Sentinel port: held by the receive thread while it serves a request and by the notifier while it posts a
    /// message, so that a message never lands between the parts of a reply.
    /// </summary>
    public Lock PushLock { get; } = new();

    /// <summary>QUIT was served: nothing more is read.</summary>
    public bool Closing { get; set; }

    /// <summary>When a protocol error was answered (0: none): from then on input is dropped until the guard closes the connection.</summary>
    public long DiscardingSince { get; set; }

    /// <summary>Offsets of the current request's arguments (see <see cref="RespRequest"/>); grows with the largest request.</summary>
    public int[] Arguments = new int[32];

    /// <summary>An inline command's arguments, decoded from its line (quotes, escapes); see <see cref="RespParser"/>.</summary>
    public byte[]? InlineLine;

    /// <summary>
    /// Room for a value being built (a value with its expiry prefix, an integer's digits), valid until the
    /// command ends; see <see cref="ScratchRoom"/>.
    /// </summary>
    public byte[] Scratch { get; private set; }

    /// <summary>
    /// Room for bytes copied out from under the store's lock (SET ... GET, GETDEL) or keys found by SCAN, valid
    /// until the command ends; see <see cref="CopyRoom"/>.
    /// </summary>
    public byte[] Copy { get; private set; }

    /// <summary>Set by a write that changed the store in sync mode: the LSN its reply (and every later one) waits for.</summary>
    public ulong AwaitedLsn { get; set; }

    /// <summary>This batch started while the node served as primary: its replies leave only if it still does.</summary>
    public bool BatchAsPrimary { get; set; }

    /// <summary>
    /// A batch of this connection started while the node served as primary: its client took this node for the
    /// primary, and a refusal closes the connection instead of answering (see RespHandler.MayRun).
    /// </summary>
    public bool ServedAsPrimary { get; set; }

    /// <summary>
    /// Set by a command that did a turn's share of its work and is to run again, from the start of the same request,
    /// once the event loop has served the others (FLUSHDB on a large store). The handler clears it.
    /// </summary>
    public bool RunAgain;

    /// <summary>
    /// The current request found the store full while entries waited for the secondary's ack, and runs again once they
    /// are published (RespHandler.RunAgainOncePublished); a second refusal goes to the client. Cleared when it ends.
    /// </summary>
    public bool WaitedForRoom;

    /// <summary>A FLUSHDB is part done: its scan stands at <see cref="FlushCursor"/>, <see cref="FlushDeleted"/> keys deleted.</summary>
    public bool Flushing;

    public ulong FlushCursor;

    public int FlushDeleted;

    /// <summary>A KEYS is part done: its walk stands at <see cref="ListCursor"/>; the keys found so far are in <see cref="ListedKeys"/>.</summary>
    public bool Listing;

    public ulong ListCursor;

    /// <summary>
    /// The keys a KEYS found, each behind its 4-byte length (as <see cref="KeyCollector"/> leaves them); null unless
    /// <see cref="Listing"/> (a KEYS that ends, finished or refused, drops them with <see cref="EndListing"/>).
    /// </summary>
    public byte[]? ListedKeys;

    public int ListedBytes;

    public int ListedCount;

    /// <summary>Ends a KEYS, finished or not: its keys are dropped.</summary>
    public void EndListing()
    {
        Listing = false;
        ListedKeys = null;
        ListedBytes = 0;
        ListedCount = 0;
    }

    // Tallies of the current batch, added to the handler's totals once per batch (no shared counter per command).
    public long BatchCommands;
    public long BatchHits;
    public long BatchMisses;
    public long BatchBytesIn;

    // Small buffers of the connection's own cover keys and small values; a larger need rents from the shared
    // pool until the command ends (ReturnBuffers), so that an idle connection keeps a few hundred bytes
    // whatever values it once handled.
    private const int OwnBufferSize = 256;

    // The argument table past this many entries is a large request's: dropped after it.
    private const int RetainedArguments = 2 * 1024;

    private readonly byte[] _ownScratch = new byte[OwnBufferSize];
    private readonly byte[] _ownCopy = new byte[OwnBufferSize];

    /// <summary><paramref name="length"/> bytes of <see cref="Scratch"/> (its earlier content may be lost).</summary>
    public Span<byte> ScratchRoom(int length)
    {
        Scratch = Grow(Scratch, _ownScratch, length, keep: 0);
        return Scratch.AsSpan(0, length);
    }

    /// <summary><paramref name="length"/> bytes of <see cref="Copy"/>, keeping its first <paramref name="keep"/> bytes.</summary>
    public Span<byte> CopyRoom(int length, int keep = 0)
    {
        Copy = Grow(Copy, _ownCopy, length, keep);
        return Copy.AsSpan(0, length);
    }

    /// <summary>After each command: rented buffers go back to the pool, and a large argument table is dropped.</summary>
    public void ReturnBuffers()
    {
        if (Scratch != _ownScratch)
        {
            ArrayPool<byte>.Shared.Return(Scratch);
            Scratch = _ownScratch;
        }

        if (Copy != _ownCopy)
        {
            ArrayPool<byte>.Shared.Return(Copy);
            Copy = _ownCopy;
        }

        if (Arguments.Length > RetainedArguments)
        {
            Arguments = new int[32];
        }
    }

    private static byte[] Grow(byte[] buffer, byte[] own, int length, int keep)
    {
        if (buffer.Length >= length)
        {
            return buffer;
        }

        byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(length, buffer.Length * 2));
        buffer.AsSpan(0, keep).CopyTo(bigger);
        if (buffer != own)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return bigger;
    }
}
