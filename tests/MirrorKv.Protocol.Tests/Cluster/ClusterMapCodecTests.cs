using System.Net;
using CsCheck;

namespace MirrorKv.Protocol.Tests;

/// <summary>The cluster map: validation, its compact wire encoding, and clear refusals of malformed input.</summary>
public class ClusterMapCodecTests
{
    private static ClusterPair Pair(string id, int port) =>
        new(id, [new ClusterMember(new IPEndPoint(IPAddress.Loopback, port), new IPEndPoint(IPAddress.Loopback, port + 1000)), new ClusterMember(new IPEndPoint(IPAddress.IPv6Loopback, port + 1))]);

    private static ClusterMap Three() => ClusterMap.SplitEvenly("dev", 7, [Pair("p1", 7400), Pair("p2", 7410), Pair("p3", 7420)]);

    [Fact]
    public void SplitEvenly_ThreePairs_SplitsAsRedisCluster()
    {
        ClusterMap map = Three();
        Assert.Equal([new SlotRange(0, 5461, "p1"), new SlotRange(5462, 10922, "p2"), new SlotRange(10923, 16383, "p3")], map.Ranges);
        Assert.Equal("p1", map.Owner(0).Id);
        Assert.Equal("p2", map.Owner(5462).Id);
        Assert.Equal("p3", map.Owner(16383).Id);
        Assert.Equal(HashSlot.Count, map.Pairs.Sum(p => map.SlotsOf(p.Id)));
    }

    [Fact]
    public void Reply_RoundTrips_AndIsCompact()
    {
        ClusterMap map = Three();
        var payload = new byte[ClusterMapMessages.ReplySize(map)];
        Assert.Equal(payload.Length, ClusterMapMessages.WriteReply(payload, map));
        Assert.True(payload.Length < 400, $"{payload.Length} bytes");
        Assert.Equal(WireStatus.Ok, ClusterMapMessages.TryReadReply(payload, out ulong version, out ClusterMap? back, out string? error));
        Assert.Null(error);
        Assert.Equal(7UL, version);
        AssertSame(map, back!);
    }

    [Fact]
    public void Reply_RoundTrips_ForRandomMaps()
    {
        Gen.Select(Gen.Int[1, 40], Gen.Int[0, 1000], Gen.ULong[1, ulong.MaxValue]).Sample((pairs, seed, version) =>
        {
            var random = new Random(seed);
            List<ClusterPair> list = [.. Enumerable.Range(0, pairs).Select(i => Pair($"pair-{i}", 1000 + (i * 3)))];
            var cuts = Enumerable.Range(1, HashSlot.Count - 1).OrderBy(_ => random.Next()).Take(random.Next(0, 60)).Order().ToList();
            var ranges = new List<SlotRange>();
            int first = 0;
            foreach (int cut in cuts.Append(HashSlot.Count))
            {
                ranges.Add(new SlotRange(first, cut - 1, list[random.Next(pairs)].Id));
                first = cut;
            }

            var map = new ClusterMap("c", version, list, ranges);
            var payload = new byte[ClusterMapMessages.ReplySize(map)];
            ClusterMapMessages.WriteReply(payload, map);
            Assert.Equal(WireStatus.Ok, ClusterMapMessages.TryReadReply(payload, out _, out ClusterMap? back, out _));
            AssertSame(map, back!);
            for (int slot = 0; slot < HashSlot.Count; slot += 97)
            {
                Assert.Equal(map.Owner(slot).Id, back!.Owner(slot).Id);
            }
        });
    }

    [Fact]
    public void Unchanged_RoundTrips_AsNoMap()
    {
        var payload = new byte[ClusterMapMessages.HeaderSize];
        ClusterMapMessages.WriteUnchanged(payload, 9);
        Assert.Equal(WireStatus.Ok, ClusterMapMessages.TryReadReply(payload, out ulong version, out ClusterMap? map, out _));
        Assert.Equal((9UL, (ClusterMap?)null), (version, map));
    }

    [Fact]
    public void Reply_AnyTruncation_IsRefusedWithAReason()
    {
        ClusterMap map = Three();
        var payload = new byte[ClusterMapMessages.ReplySize(map)];
        ClusterMapMessages.WriteReply(payload, map);
        for (int length = 0; length < payload.Length; length++)
        {
            Assert.Equal(WireStatus.MalformedFrame, ClusterMapMessages.TryReadReply(payload.AsSpan(0, length), out _, out ClusterMap? none, out string? error));
            Assert.Null(none);
            Assert.StartsWith("malformed cluster map: ", error, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("range-gap", "belong to no pair")]
    [InlineData("range-owner", "names pair index 9")]
    [InlineData("overlap", "overlaps")]
    [InlineData("duplicate-pair", "appears twice")]
    [InlineData("bad-family", "unknown family")]
    [InlineData("reserved", "reserved")]
    [InlineData("version-0", "version must be at least 1")]
    [InlineData("trailing", "bytes follow the pairs")]
    [InlineData("members", "members")]
    public void Reply_Malformed_IsRefusedNamingWhatIsWrong(string damage, string expected)
    {
        ClusterMap map = Three();
        byte[] payload = new byte[ClusterMapMessages.ReplySize(map)];
        ClusterMapMessages.WriteReply(payload, map);
        int pairsStart = ClusterMapMessages.HeaderSize + map.Name.Length;
        int pairSize = 2 + 2 + (2 * ClusterMapMessages.MemberSize);
        int rangesStart = payload.Length - (3 * ClusterMapMessages.RangeSize);
        switch (damage)
        {
            case "range-gap":
                payload[rangesStart + ClusterMapMessages.RangeSize + 1] = 0x16; // the second range starts at 5718, not 5462
                break;
            case "range-owner":
                payload[rangesStart + 4] = 9;
                break;
            case "overlap":
                payload[rangesStart + ClusterMapMessages.RangeSize] = 0; // second range starts below the first one's end
                payload[rangesStart + ClusterMapMessages.RangeSize + 1] = 0;
                break;
            case "duplicate-pair":
                payload[pairsStart + pairSize + 3] = (byte)'1'; // p2 -> p1
                break;
            case "bad-family":
                payload[pairsStart + 4 + 2] = 5;
                break;
            case "reserved":
                payload[14] = 1;
                break;
            case "version-0":
                Array.Clear(payload, 0, 8);
                break;
            case "trailing":
                payload = [.. payload, 0];
                break;
            case "members":
                payload[pairsStart + 1] = 200;
                break;
        }

        Assert.Equal(WireStatus.MalformedFrame, ClusterMapMessages.TryReadReply(payload, out _, out ClusterMap? none, out string? error));
        Assert.Null(none);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_RefusesMapsThatLeaveASlotWithoutOwner()
    {
        ClusterPair[] pairs = [Pair("a", 1), Pair("b", 2)];
        Assert.Contains("16000-16383 belong to no pair", Assert.Throws<ArgumentException>(() => new ClusterMap("c", 1, pairs, [new SlotRange(0, 15999, "a")])).Message, StringComparison.Ordinal);
        Assert.Contains("'z'", Assert.Throws<ArgumentException>(() => new ClusterMap("c", 1, pairs, [new SlotRange(0, 16383, "z")])).Message, StringComparison.Ordinal);
        Assert.Contains("cluster name", Assert.Throws<ArgumentException>(() => new ClusterMap("bad name", 1, pairs, [new SlotRange(0, 16383, "a")])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Redirect_Text_RoundTrips_AndReadsAsRedisMoved()
    {
        var redirect = new Redirect(866, new IPEndPoint(IPAddress.Loopback, 7402), "p2", 3);
        Assert.Equal("MOVED 866 127.0.0.1:7402 p2 3", redirect.ToString());
        Assert.True(Redirect.TryParse(redirect.ToString(), out Redirect? back));
        Assert.Equal(redirect, back);
        Assert.True(Redirect.TryParse("WRITE failed: Moved: MOVED 5 - p1 12", out back));
        Assert.Equal(new Redirect(5, null, "p1", 12), back);
        Assert.True(Redirect.TryParse("MOVED 1 [::1]:7400 p1 2", out back));
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 7400), back!.EndPoint);
        foreach (string bad in new[] { "MOVED 16384 - p1 1", "MOVED 1 - p1", "MOVED x - p1 1", "MOVED 1 nowhere p1 1", "MOVED 1 - bad/id 1", "moved 1 - p1 1" })
        {
            Assert.False(Redirect.TryParse(bad, out _), bad);
        }
    }

    private static void AssertSame(ClusterMap expected, ClusterMap actual)
    {
        Assert.Equal((expected.Name, expected.Version), (actual.Name, actual.Version));
        Assert.Equal(expected.Ranges, actual.Ranges);
        Assert.Equal(expected.Pairs.Count, actual.Pairs.Count);
        for (int i = 0; i < expected.Pairs.Count; i++)
        {
            Assert.True(expected.Pairs[i].SameMembers(actual.Pairs[i]), $"pair {i}");
        }
    }
}
