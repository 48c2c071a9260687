using System.Net;
using CsCheck;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Client.Tests;

/// <summary>The cluster client's batch splitting: every key goes to the pair owning its slot, once, in the caller's order.</summary>
public class SlotBatchTests
{
    private static readonly ClusterMap Map = new("c", 1,
        [.. new[] { "a", "b", "c" }.Select((id, i) => new ClusterPair(id, [new ClusterMember(new IPEndPoint(IPAddress.Loopback, 7000 + i))]))],
        [new SlotRange(0, 99, "b"), new SlotRange(100, 9000, "a"), new SlotRange(9001, 9001, "c"), new SlotRange(9002, 16383, "b")]);

    [Fact]
    public void Split_EveryKeyOnce_AtItsOwner_InTheCallersOrder()
    {
        Gen.String[Gen.Char.AlphaNumeric, 1, 12].List[0, 200].Sample(list =>
        {
            string[] keys = [.. list];
            SlotBatch batch = SlotBatch.Split(keys, Map.OwnerIndex, Map.Pairs.Count);
            var seen = new List<int>();
            for (int owner = 0; owner < batch.Positions.Length; owner++)
            {
                List<int> positions = batch.Positions[owner] ?? [];
                Assert.Equal(positions.Order(), positions);
                Assert.All(positions, i => Assert.Equal(owner, Map.OwnerIndex(HashSlot.Of(keys[i]))));
                seen.AddRange(positions);
            }

            Assert.Equal(Enumerable.Range(0, keys.Length), seen.Order());
        });
    }

    [Fact]
    public void Split_OfSomePositions_TakesThoseAlone_AndPickPutsResultsBack()
    {
        string[] keys = [.. Enumerable.Range(0, 50).Select(i => $"key-{i}")];
        int[] only = [3, 7, 8, 20, 49];
        SlotBatch batch = SlotBatch.Split(keys, Map.OwnerIndex, Map.Pairs.Count, only);
        Assert.Equal(only, batch.Positions.SelectMany(p => p ?? []).Order());

        // What the cluster client does with each pair's answers: back to the positions they came from.
        var results = new string?[keys.Length];
        foreach (List<int>? positions in batch.Positions)
        {
            if (positions is not null)
            {
                List<string> picked = SlotBatch.Pick(keys, positions);
                for (int j = 0; j < positions.Count; j++)
                {
                    results[positions[j]] = picked[j].ToUpperInvariant();
                }
            }
        }

        Assert.Equal(keys.Select((k, i) => only.Contains(i) ? k.ToUpperInvariant() : null), results);
    }

    [Fact]
    public void Split_KeysSharingAHashTag_GoToOnePair()
    {
        string[] keys = [.. Enumerable.Range(0, 40).Select(i => $"{{cart:42}}:item:{i}")];
        SlotBatch batch = SlotBatch.Split(keys, Map.OwnerIndex, Map.Pairs.Count);
        Assert.Equal(keys.Length, Assert.Single(batch.Positions, p => p is not null)!.Count);
    }
}
