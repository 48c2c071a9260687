using System.Text;
using CsCheck;

namespace MirrorKv.Protocol.Tests;

/// <summary>The slot function is Redis Cluster's: CRC16/XMODEM mod 16,384 with its hash-tag rule.</summary>
public class HashSlotTests
{
    [Fact]
    public void Crc16_OfTheStandardCheckString_Is0x31C3()
    {
        Assert.Equal(0x31C3, HashSlot.Crc16("123456789"u8));
        Assert.Equal(0, HashSlot.Crc16([]));
    }

    [Theory]
    // Values Redis Cluster documents or prints (CLUSTER KEYSLOT, redis-cli -c redirections).
    [InlineData("somekey", 11058)]
    [InlineData("foo{hash_tag}", 2515)]
    [InlineData("bar{hash_tag}", 2515)]
    [InlineData("foo", 12182)]
    [InlineData("bar", 5061)]
    [InlineData("hello", 866)]
    [InlineData("123456789", 0x31C3 & 16383)]
    public void Of_KnownKeys_GiveRedisClustersSlots(string key, int slot)
    {
        Assert.Equal(slot, HashSlot.Of(key));
        Assert.Equal(slot, HashSlot.Of(Encoding.UTF8.GetBytes(key)));
    }

    [Theory]
    [InlineData("{user1000}.following", "user1000")]
    [InlineData("foo{}{bar}", "foo{}{bar}")] // the first '{' is followed at once by '}': no tag, the whole key
    [InlineData("foo{{bar}}zap", "{bar")] // the tag runs from the first '{' to the first '}' after it
    [InlineData("foo{bar}{zap}", "bar")]
    [InlineData("{", "{")]
    [InlineData("}{", "}{")]
    [InlineData("a{b", "a{b")]
    [InlineData("{}", "{}")]
    [InlineData("x{é}", "é")]
    public void HashedPart_FollowsTheHashTagRule(string key, string hashed)
    {
        Assert.Equal(Encoding.UTF8.GetBytes(hashed), HashSlot.HashedPart(Encoding.UTF8.GetBytes(key)).ToArray());
    }

    [Fact]
    public void Of_KeysSharingANonEmptyTag_ShareASlot_WhateverSurroundsIt()
    {
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 20], Gen.String[Gen.Char.AlphaNumeric, 0, 20], Gen.String[Gen.Char[' ', '~'], 0, 20])
            .Sample((tag, prefix, suffix) =>
            {
                int slot = HashSlot.Of($"{prefix}{{{tag}}}{suffix}");
                Assert.Equal(HashSlot.Of(tag), slot);
                Assert.Equal(slot, HashSlot.Of($"{{{tag}}}"));
            });
    }

    [Fact]
    public void Of_KeysWithoutATag_HashWhole_AndStayInRange()
    {
        Gen.Byte.Array[0, 300].Where(k => HashSlot.HashedPart(k).Length == k.Length).Sample(key =>
        {
            int slot = HashSlot.Of(key);
            Assert.InRange(slot, 0, HashSlot.Count - 1);
            Assert.Equal(Reference(key) & 16383, slot);
        });
    }

    [Fact]
    public void Of_ManyKeys_SpreadOverAllSlotsEvenly()
    {
        var perThird = new int[3];
        for (int i = 0; i < 30_000; i++)
        {
            perThird[HashSlot.Of($"key:{i}") * 3 / HashSlot.Count]++;
        }

        Assert.All(perThird, n => Assert.InRange(n, 9_000, 11_000));
    }

    // Bit by bit, as the CRC is defined, beside the table-driven one.
    private static int Reference(byte[] data)
    {
        int crc = 0;
        foreach (byte b in data)
        {
            crc ^= b << 8;
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? ((crc << 1) ^ 0x1021) & 0xFFFF : (crc << 1) & 0xFFFF;
            }
        }

        return crc;
    }
}
