using MirrorKv.Adapter.Resp;

namespace MirrorKv.Fuzz;

/// <summary>
/// The RESP parser under arbitrary bytes, as a node's RESP port receives them: requests are parsed one after
/// another from the start of the buffer, as the connection's receive loop does, until one is incomplete or
/// malformed. Besides not throwing, it checks what the node relies on: a complete request lies inside the
/// bytes it consumed and within the limits; an incomplete one consumed nothing and, when it names the length
/// it needs, needs more than it had; an error has a reason. And it checks that the stream means the same
/// whether it arrives whole or in two pieces cut anywhere (the receive loop sees any cut a socket makes):
/// the same requests, then the same end. The arguments then go to what commands do with them (numbers,
/// glob patterns), as SET's options and SCAN's MATCH would.
/// </summary>
public static class RespStreamTarget
{
    private static readonly RespLimits Limits = new(MaxRequestBytes: 1 << 20, MaxBulkLength: 64 * 1024, MaxArguments: 1024, MaxInlineLength: 4096);

    [ThreadStatic]
    private static int[]? t_table;

    [ThreadStatic]
    private static byte[]? t_line;

    /// <summary>Requests parsed so far (for the replay summary).</summary>
    public static long ParsedRequests;

    /// <summary>Parses <paramref name="data"/> whole and in two pieces; throws <see cref="InvalidOperationException"/> on a broken invariant.</summary>
    public static void Run(ReadOnlySpan<byte> data)
    {
        (ulong whole, RespParseStatus end, int requests) = Parse(data, data.Length);
        ParsedRequests += requests;

        // A cut that depends on the input, so that afl explores cuts as it explores bytes.
        int cut = data.Length < 2 ? data.Length : 1 + (int)(Fnv(data, 0xcbf29ce484222325UL) % (ulong)(data.Length - 1));
        (ulong pieces, RespParseStatus piecesEnd, _) = Parse(data, cut);
        Check(pieces == whole && piecesEnd == end, $"the stream parsed differently when cut at {cut} of {data.Length} bytes ({end} whole, {piecesEnd} in pieces)");
    }

    // Parses as the receive loop does, with only the first `available` bytes there at first and the rest arriving
    // once a request is incomplete. Returns a hash of every request's arguments, how the stream ended, and the count.
    private static (ulong Hash, RespParseStatus End, int Requests) Parse(ReadOnlySpan<byte> data, int available)
    {
        int[] table = t_table ??= new int[32];
        byte[]? line = t_line;
        ulong hash = 0xcbf29ce484222325UL;
        int offset = 0;
        int requests = 0;
        try
        {
            while (true)
            {
                ReadOnlySpan<byte> buffered = data[offset..available];
                if (buffered.IsEmpty && available == data.Length)
                {
                    return (hash, RespParseStatus.Incomplete, requests);
                }

                RespParseStatus status = RespParser.TryParse(buffered, Limits, ref table, ref line, out int count, out int consumed, out int needed, out string? error, out bool decoded);
                if (status == RespParseStatus.Incomplete)
                {
                    Check(consumed == 0, "an incomplete request consumed bytes");
                    Check(needed == 0 || needed > buffered.Length, $"an incomplete request says it needs {needed} bytes and had {buffered.Length}");
                    if (available == data.Length)
                    {
                        return (hash, RespParseStatus.Incomplete, requests);
                    }

                    available = data.Length;
                    continue;
                }

                if (status == RespParseStatus.Error)
                {
                    Check(!string.IsNullOrEmpty(error), "a protocol error without a reason");
                    return (hash, RespParseStatus.Error, requests);
                }

                Check(consumed > 0 && consumed <= buffered.Length, $"a request consumed {consumed} of {buffered.Length} bytes");
                Check(count >= 0 && count <= Limits.MaxArguments, $"a request of {count} arguments");
                if (count > 0)
                {
                    requests++;
                    // An inline command's arguments were decoded into the line, never longer than what it consumed.
                    hash = Visit(decoded ? line : buffered, table, count, consumed, hash);
                }

                offset += consumed;
            }
        }
        finally
        {
            t_table = table;
            t_line = line;
        }
    }

    private static ulong Visit(ReadOnlySpan<byte> buffered, int[] table, int count, int consumed, ulong hash)
    {
        var request = new RespRequest(buffered, table, count);
        for (int i = 0; i < count; i++)
        {
            int start = table[2 * i];
            int length = table[(2 * i) + 1];
            Check(start >= 0 && length >= 0 && start + length <= consumed, $"argument {i} at {start}+{length} lies outside the {consumed} bytes consumed");
            Check(length <= Math.Max(Limits.MaxBulkLength, Limits.MaxInlineLength), $"argument {i} of {length} bytes is over the limits");
            ReadOnlySpan<byte> argument = request[i];
            hash = Fnv(argument, hash ^ (ulong)length);
            RespNumbers.TryParse(argument, out _);
        }

        if (count >= 2)
        {
            // SCAN MATCH and CONFIG GET take a pattern from the client: any pattern against any text must end.
            RespGlob.IsMatch(request[0], request[1]);
            RespGlob.IsMatch(request[1], request[0], ignoreCase: true);
        }

        return hash;
    }

    private static ulong Fnv(ReadOnlySpan<byte> bytes, ulong hash)
    {
        foreach (byte b in bytes)
        {
            hash = (hash ^ b) * 0x100000001b3UL;
        }

        return hash;
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
