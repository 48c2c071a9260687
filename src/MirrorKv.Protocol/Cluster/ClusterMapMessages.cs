using System.Net;
using System.Text;

namespace MirrorKv.Protocol;

/// <summary>
/// CLUSTER_MAP (protocol 1.3). Request payload (8 bytes): the map version the caller already has, u64 (0: none).
/// Reply payload: a 16-byte header (version u64, pair count P u16, range count R u16, flags u8 (bit 0
/// <b>unchanged</b>: the caller's version is current and nothing follows the header), name length n u8,
/// reserved u16), the cluster name (n bytes), P pairs (id length i u8, member count m u8, id (i bytes), m
/// members of two 20-byte endpoints each: native, then RESP or none), and R ranges of 8 bytes (first slot
/// u16, last slot u16, pair index u16, reserved u16). docs/protocol.md has the layout and an example.
/// </summary>
public static class ClusterMapMessages
{
    /// <summary>Request size.</summary>
    public const int RequestSize = 8;

    /// <summary>Reply bytes before the name.</summary>
    public const int HeaderSize = 16;

    /// <summary>Bytes per slot range.</summary>
    public const int RangeSize = 8;

    /// <summary>Bytes per member: its native and its RESP endpoint.</summary>
    public const int MemberSize = 2 * WireEndPoint.Size;

    private const byte UnchangedFlag = 1;

    /// <summary>Encodes a request.</summary>
    public static int WriteRequest(Span<byte> destination, ulong knownVersion)
    {
        var w = new PayloadWriter(destination);
        w.U64(knownVersion);
        return w.Written;
    }

    /// <summary>Decodes a request.</summary>
    public static WireStatus TryReadRequest(ReadOnlySpan<byte> payload, out ulong knownVersion)
    {
        var r = new PayloadReader(payload);
        knownVersion = r.U64();
        return r.IsCompleteAndValid ? WireStatus.Ok : WireStatus.MalformedFrame;
    }

    /// <summary>Reply size for <paramref name="map"/> sent whole.</summary>
    public static int ReplySize(ClusterMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        int size = HeaderSize + map.Name.Length + (map.OwnershipRanges.Count * RangeSize);
        foreach (ClusterPair pair in map.Pairs)
        {
            size += 2 + pair.Id.Length + (pair.Members.Count * MemberSize);
        }

        return size;
    }

    /// <summary>Encodes the whole map.</summary>
    public static int WriteReply(Span<byte> destination, ClusterMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var w = new PayloadWriter(destination);
        w.U64(map.Version);
        w.U16((ushort)map.Pairs.Count);
        w.U16((ushort)map.OwnershipRanges.Count);
        w.U8(0);
        w.U8((byte)map.Name.Length);
        w.U16(0);
        w.Bytes(Encoding.ASCII.GetBytes(map.Name));
        foreach (ClusterPair pair in map.Pairs)
        {
            w.U8((byte)pair.Id.Length);
            w.U8((byte)pair.Members.Count);
            w.Bytes(Encoding.ASCII.GetBytes(pair.Id));
            foreach (ClusterMember member in pair.Members)
            {
                WireEndPoint.Write(ref w, member.EndPoint);
                WireEndPoint.Write(ref w, member.RespEndPoint);
            }
        }

        // Ownership only: clients route by owner, and a move's state is the nodes' business (docs/scale-out.md).
        foreach (SlotRange range in map.OwnershipRanges)
        {
            w.U16((ushort)range.First);
            w.U16((ushort)range.Last);
            w.U16((ushort)map.IndexOf(range.PairId));
            w.U16(0);
        }

        return w.Written;
    }

    /// <summary>Encodes the 16-byte "unchanged" reply: the caller's <paramref name="version"/> is current.</summary>
    public static int WriteUnchanged(Span<byte> destination, ulong version)
    {
        var w = new PayloadWriter(destination);
        w.U64(version);
        w.U32(0);
        w.U8(UnchangedFlag);
        w.U8(0);
        w.U16(0);
        return w.Written;
    }

    /// <summary>
    /// Decodes a reply: <paramref name="map"/> is the map, or null when the reply says the caller's version is
    /// current (<paramref name="version"/> is then that version). On a malformed payload returns MalformedFrame
    /// and <paramref name="error"/> says what is wrong.
    /// </summary>
    public static WireStatus TryReadReply(ReadOnlySpan<byte> payload, out ulong version, out ClusterMap? map, out string? error)
    {
        map = null;
        var r = new PayloadReader(payload);
        version = r.U64();
        int pairCount = r.U16();
        int rangeCount = r.U16();
        byte flags = r.U8();
        int nameLength = r.U8();
        ushort reserved = r.U16();
        if (r.Failed)
        {
            return Malformed($"a CLUSTER_MAP reply has a {HeaderSize}-byte header; got {payload.Length} bytes", out error);
        }

        if ((flags & ~UnchangedFlag) != 0 || reserved != 0)
        {
            return Malformed($"unknown flags 0x{flags:x2} or non-zero reserved bytes in the header", out error);
        }

        if ((flags & UnchangedFlag) != 0)
        {
            return pairCount == 0 && rangeCount == 0 && nameLength == 0 && r.Remaining == 0
                ? Ok(out error)
                : Malformed("an 'unchanged' reply must end after its header, with zero counts", out error);
        }

        string name = Encoding.ASCII.GetString(r.Bytes(nameLength));
        var pairs = new List<ClusterPair>(Math.Min(pairCount, 1024));
        for (int i = 0; i < pairCount && !r.Failed; i++)
        {
            int idLength = r.U8();
            int memberCount = r.U8();
            string id = Encoding.ASCII.GetString(r.Bytes(idLength));
            if ((long)memberCount * MemberSize > r.Remaining)
            {
                return Malformed($"pair {i} ('{id}') claims {memberCount} members; the payload ends before them", out error);
            }

            var members = new ClusterMember[memberCount];
            for (int m = 0; m < memberCount; m++)
            {
                IPEndPoint? native = WireEndPoint.Read(ref r);
                IPEndPoint? resp = WireEndPoint.Read(ref r);
                if (native is null)
                {
                    return Malformed(r.Failed ? $"pair {i} ('{id}') member {m} has an endpoint of unknown family" : $"pair {i} ('{id}') member {m} has no native endpoint", out error);
                }

                members[m] = new ClusterMember(native, resp);
            }

            pairs.Add(new ClusterPair(id, members));
        }

        if (r.Failed || (long)rangeCount * RangeSize != r.Remaining)
        {
            return Malformed(r.Failed
                ? $"the payload ends inside the {pairCount} pairs it announces"
                : $"{rangeCount} ranges take {rangeCount * RangeSize} bytes; {r.Remaining} bytes follow the pairs", out error);
        }

        var ranges = new SlotRange[rangeCount];
        for (int i = 0; i < rangeCount; i++)
        {
            int first = r.U16(), last = r.U16(), owner = r.U16();
            if (r.U16() != 0)
            {
                return Malformed($"range {i} has non-zero reserved bytes", out error);
            }

            if (owner >= pairs.Count)
            {
                return Malformed($"range {i} ({first}-{last}) names pair index {owner}; the map has {pairs.Count} pairs", out error);
            }

            ranges[i] = new SlotRange(first, last, pairs[owner].Id);
        }

        try
        {
            map = new ClusterMap(name, version, pairs, ranges);
            return Ok(out error);
        }
        catch (ArgumentException e)
        {
            return Malformed(e.Message, out error);
        }
    }

    private static WireStatus Ok(out string? error)
    {
        error = null;
        return WireStatus.Ok;
    }

    private static WireStatus Malformed(string why, out string? error)
    {
        error = $"malformed cluster map: {why}";
        return WireStatus.MalformedFrame;
    }
}
