using System.Net;
using System.Text;
using CsCheck;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests.Cluster;

/// <summary>
/// A map with slots moving: the states validated, kept in etcd's JSON (round trip, damage refused with a reason),
/// left off the wire (clients see ownership only), changed step by step as the mover does, and the rebalance plan.
/// </summary>
public class SlotMigrationMapTests
{
    private static readonly ClusterPair[] Pairs = [.. new[] { "p1", "p2", "p3" }.Select((id, i) => new ClusterPair(id, [new ClusterMember(new IPEndPoint(IPAddress.Loopback, 7000 + i), new IPEndPoint(IPAddress.Loopback, 8000 + i))]))];

    private static ClusterMap Moving() => ClusterMap.SplitEvenly("c", 4, Pairs)
        .WithSlots(5, 100, 199, "p1", "p2", MigrationPhase.Copy)
        .WithSlots(6, 6000, 6000, "p2", "p3", MigrationPhase.Handoff);

    [Fact]
    public void Json_RoundTrip_KeepsEveryRangesMove()
    {
        ClusterMap map = Moving();
        ClusterMap back = ClusterMapRecord.Decode("c", ClusterMapRecord.Encode(map));
        Assert.Equal(map.Ranges, back.Ranges);
        Assert.Equal(6UL, back.Version);
        Assert.Equal(MigrationPhase.Copy, back.MigrationOf(150, out int target));
        Assert.Equal("p2", back.Pairs[target].Id);
        Assert.Equal(MigrationPhase.Handoff, back.MigrationOf(6000, out target));
        Assert.Equal("p3", back.Pairs[target].Id);
        Assert.Equal(MigrationPhase.None, back.MigrationOf(99, out target));
        Assert.Equal(-1, target);
        Assert.Contains("\"migrating\":\"p2\",\"phase\":\"copy\"", Encoding.UTF8.GetString(ClusterMapRecord.Encode(map)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"migrating\":\"p9\",\"phase\":\"copy\"", "moves to pair 'p9', which is not in the map")]
    [InlineData("\"migrating\":\"p1\",\"phase\":\"copy\"", "moves to its own owner")]
    [InlineData("\"migrating\":\"p2\",\"phase\":\"paused\"", "phase 'paused' is not copy or handoff")]
    [InlineData("\"migrating\":\"p2\"", "must name both the pair it moves to and a phase")]
    [InlineData("\"phase\":\"handoff\"", "must name both the pair it moves to and a phase")]
    public void Json_WithABrokenMove_IsRefusedWithTheReason(string move, string reason)
    {
        string json = Encoding.UTF8.GetString(ClusterMapRecord.Encode(ClusterMap.SplitEvenly("c", 1, Pairs)))
            .Replace("\"last\":5461,\"pair\":\"p1\"", $"\"last\":5461,\"pair\":\"p1\",{move}", StringComparison.Ordinal);
        FormatException e = Assert.Throws<FormatException>(() => ClusterMapRecord.Decode("c", Encoding.UTF8.GetBytes(json)));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wire_CarriesOwnershipOnly_AdjacentRangesOfOneOwnerMerged()
    {
        ClusterMap map = Moving();
        Assert.Equal(ClusterMap.SplitEvenly("c", 6, Pairs).Ranges, map.OwnershipRanges);
        var bytes = new byte[ClusterMapMessages.ReplySize(map)];
        Assert.Equal(bytes.Length, ClusterMapMessages.WriteReply(bytes, map));
        Assert.Equal(WireStatus.Ok, ClusterMapMessages.TryReadReply(bytes, out _, out ClusterMap? decoded, out _));
        Assert.False(decoded!.HasMigrations);
        Assert.Equal(map.OwnershipRanges, decoded.Ranges);

        // The same bytes as the map without moves: a 1.3 client reads it as it always did.
        ClusterMap still = ClusterMap.SplitEvenly("c", 6, Pairs);
        var plain = new byte[ClusterMapMessages.ReplySize(still)];
        ClusterMapMessages.WriteReply(plain, still);
        Assert.Equal(plain, bytes);
    }

    [Fact]
    public void WithSlots_TheMoversThreeSteps_EndWithTheTargetOwningTheSlotsAndNothingMoving()
    {
        ClusterMap map = ClusterMap.SplitEvenly("c", 1, Pairs);
        ClusterMap copy = map.WithSlots(2, 5000, 5461, "p1", "p3", MigrationPhase.Copy).WithSlots(3, 5462, 5999, "p2", "p3", MigrationPhase.Copy);
        Assert.Equal([new SlotRange(0, 4999, "p1"), new SlotRange(5000, 5461, "p1", "p3", MigrationPhase.Copy), new SlotRange(5462, 5999, "p2", "p3", MigrationPhase.Copy), new SlotRange(6000, 10922, "p2")], copy.Ranges.Take(4));
        Assert.Equal("p2", copy.Owner(5500).Id);
        ClusterMap handoff = copy.WithSlots(4, 5000, 5461, "p1", "p3", MigrationPhase.Handoff);
        Assert.Equal(MigrationPhase.Handoff, handoff.MigrationOf(5000, out _));
        Assert.Equal(MigrationPhase.Copy, handoff.MigrationOf(5462, out _));
        ClusterMap owned = handoff.WithSlots(5, 5000, 5461, "p3").WithSlots(6, 5462, 5999, "p3");
        Assert.False(owned.HasMigrations);
        Assert.Equal([new SlotRange(0, 4999, "p1"), new SlotRange(5000, 5999, "p3"), new SlotRange(6000, 10922, "p2"), new SlotRange(10923, 16383, "p3")], owned.Ranges);
    }

    [Fact]
    public void Constructor_RefusesAMoveToAPairNotInTheMap_OrToItsOwner_OrWithoutAPhase()
    {
        Assert.Contains("not in the map", Assert.Throws<ArgumentException>(() => ClusterMap.SplitEvenly("c", 1, Pairs).WithSlots(2, 0, 9, "p1", "p4", MigrationPhase.Copy)).Message, StringComparison.Ordinal);
        Assert.Contains("its own owner", Assert.Throws<ArgumentException>(() => ClusterMap.SplitEvenly("c", 1, Pairs).WithSlots(2, 0, 9, "p1", "p1", MigrationPhase.Copy)).Message, StringComparison.Ordinal);
        Assert.Contains("or neither", Assert.Throws<ArgumentException>(() => ClusterMap.SplitEvenly("c", 1, Pairs).WithSlots(2, 0, 9, "p1", "p2")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ClusterMap.SplitEvenly("c", 1, Pairs).WithSlots(2, 10, 9, "p1"));

        // A pair that still owns slots, or has slots moving to it, cannot leave the map.
        ClusterMap map = ClusterMap.SplitEvenly("c", 1, Pairs).WithSlots(2, 0, 5461, "p2").WithSlots(3, 0, 9, "p2", "p1", MigrationPhase.Copy);
        Assert.Contains("not in the map", Assert.Throws<ArgumentException>(() => map.WithPairs(4, [Pairs[1], Pairs[2]])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_GivesEveryPairItsShare_MovingOnlyTheSurplus()
    {
        // Maps of 1-6 pairs split at random boundaries: the plan's moves leave each pair with its share.
        Gen.Select(Gen.Int[1, 6], Gen.Int[0, 1000]).Sample((n, seed) =>
        {
            ClusterPair[] pairs = [.. Enumerable.Range(1, n).Select(i => new ClusterPair($"q{i}", [new ClusterMember(new IPEndPoint(IPAddress.Loopback, 9000 + i))]))];
            var random = new Random(seed);
            var cuts = Enumerable.Range(0, n - 1).Select(_ => random.Next(1, HashSlot.Count)).Distinct().Order().ToList();
            var ranges = new List<SlotRange>();
            int first = 0;
            foreach (int cut in cuts.Append(HashSlot.Count))
            {
                ranges.Add(new SlotRange(first, cut - 1, pairs[random.Next(n)].Id));
                first = cut;
            }

            var map = new ClusterMap("c", 1, pairs, ranges);
            string? leaving = n > 1 && random.Next(3) == 0 ? pairs[random.Next(n)].Id : null;
            int[] shares = SlotPlan.EvenShares(map, leaving);
            IReadOnlyList<SlotRange> moves = SlotPlan.Moves(map, shares);
            ClusterMap after = map;
            foreach (SlotRange move in moves)
            {
                Assert.All(Enumerable.Range(move.First, move.Count), s => Assert.Equal(move.PairId, map.Owner(s).Id));
                after = after.WithSlots(after.Version + 1, move.First, move.Last, move.MigratingTo!);
            }

            for (int i = 0; i < n; i++)
            {
                Assert.Equal(shares[i], after.SlotsOf(pairs[i].Id));
            }

            int surplus = pairs.Select((p, i) => Math.Max(0, map.SlotsOf(p.Id) - shares[i])).Sum();
            Assert.Equal(surplus, moves.Sum(m => m.Count));
        });
    }

    [Fact]
    public void Plan_AddingAFourthPair_MovesAQuarterOfTheSlots_InBatchesOfTheSizeAsked()
    {
        ClusterPair fourth = new("p4", [new ClusterMember(new IPEndPoint(IPAddress.Loopback, 7003))]);
        ClusterMap map = ClusterMap.SplitEvenly("c", 1, Pairs).WithPairs(2, [.. Pairs, fourth]);
        IReadOnlyList<SlotRange> moves = SlotPlan.Moves(map, SlotPlan.EvenShares(map));
        Assert.Equal(4096, moves.Sum(m => m.Count));
        Assert.All(moves, m => Assert.Equal("p4", m.MigratingTo));
        SlotRange[] batches = [.. moves.SelectMany(m => SlotPlan.Batches(m, 1000))];
        Assert.All(batches, b => Assert.InRange(b.Count, 1, 1000));
        Assert.Equal(4096, batches.Sum(b => b.Count));
        Assert.Throws<ArgumentException>(() => SlotPlan.EvenShares(ClusterMap.SplitEvenly("c", 1, [Pairs[0]]), "p1"));
    }
}
