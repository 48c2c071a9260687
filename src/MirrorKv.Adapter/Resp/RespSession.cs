using System.Diagnostics;
using MirrorKv.Transport;

namespace MirrorKv.Adapter.Resp;

/// <summary>What the node knows about one RESP connection, kept in <c>IConnection.State</c>.</summary>
internal sealed class RespSession(long id, RespOutput output, bool authenticated)
{
    /// <summary>CLIENT ID: unique among this node's RESP connections since start.</summary>
    public long Id { get; } = id;

    public RespOutput Output { get; } = output;

    public IConnection Connection => Output.Connection;

    /// <summary>When the connection was accepted: the AUTH deadline and CLIENT INFO's age count from here.</summary>
    public long OpenedAt { get; } = Stopwatch.GetTimestamp();

    /// <summary>When the last batch of commands arrived (CLIENT INFO's idle).</summary>
    public long LastCommandAt { get; set; } = Stopwatch.GetTimestamp();

    /// <summary>The last command's name (CLIENT INFO's cmd).</summary>
    public string LastCommand { get; set; } = "NULL";

    /// <summary>True once AUTH (or HELLO ... AUTH) proved the secret; from the start when the node has none.</summary>
    public bool Authenticated { get; set; } = authenticated;

    /// <summary>CLIENT SETNAME.</summary>
    public string? Name { get; set; }

    /// <summary>CLIENT SETINFO LIB-NAME and LIB-VER.</summary>
    public string? LibraryName { get; set; }

    public string? LibraryVersion { get; set; }

    /// <summary>QUIT was served: nothing more is read.</summary>
    public bool Closing { get; set; }

    /// <summary>When a protocol error was answered (0: none): from then on input is dropped until the guard closes the connection.</summary>
    public long DiscardingSince { get; set; }

    /// <summary>Offsets of the current request's arguments (see <see cref="RespRequest"/>); grows with the largest request.</summary>
    public int[] Arguments = new int[32];

    /// <summary>Room for a value being built (a value with its expiry prefix, an integer's digits).</summary>
    public byte[] Scratch = new byte[256];

    /// <summary>Room for a value copied out from under the store's lock (SET ... GET, GETDEL), or keys found by SCAN.</summary>
    public byte[] Copy = new byte[256];

    /// <summary>Set by a write that changed the store in sync mode: the LSN its reply (and every later one) waits for.</summary>
    public ulong AwaitedLsn { get; set; }

    /// <summary>This batch started while the node served as primary: its replies leave only if it still does.</summary>
    public bool BatchAsPrimary { get; set; }

    // Tallies of the current batch, added to the handler's totals once per batch (no shared counter per command).
    public long BatchCommands;
    public long BatchHits;
    public long BatchMisses;
    public long BatchBytesIn;

    /// <summary>A buffer of at least <paramref name="length"/> bytes in <paramref name="buffer"/>, grown when short.</summary>
    public static Span<byte> Room(ref byte[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new byte[Math.Max(length, buffer.Length * 2)];
        }

        return buffer.AsSpan(0, length);
    }
}
