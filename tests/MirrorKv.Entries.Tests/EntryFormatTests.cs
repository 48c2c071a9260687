using System.Buffers.Binary;
using CsCheck;

namespace MirrorKv.Entries.Tests;

/// <summary>The entry codec and the one-sided reader's validation: every verdict, and properties over wide inputs.</summary>
public class EntryFormatTests
{
    private static byte[] Slot(int size, ulong version, byte[] key, byte[] value, EntryFlags flags = EntryFlags.Live)
    {
        var slot = new byte[size];
        EntryCodec.Write(slot, version, key, value, flags);
        return slot;
    }

    [Fact]
    public void Validate_FreshEntry_IsOkWithValueAndVersion()
    {
        byte[] slot = Slot(64, 10, "key"u8.ToArray(), "value"u8.ToArray());
        Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, "key"u8, 0, out ValidatedEntry e));
        Assert.Equal(10UL, e.Version);
        Assert.Equal("value"u8.ToArray(), e.ValueOf(slot).ToArray());
    }

    [Fact]
    public void Validate_EachVerdict_FromTheInputThatCausesIt()
    {
        byte[] good = Slot(64, 10, "key"u8.ToArray(), "value"u8.ToArray());
        EntryStatus Judge(Action<byte[]> change, string key = "key", ulong min = 0, int? length = null)
        {
            byte[] copy = (byte[])good.Clone();
            change(copy);
            return EntryValidator.Validate(copy.AsSpan(0, length ?? copy.Length), System.Text.Encoding.UTF8.GetBytes(key), min, out _);
        }

        Assert.Equal(EntryStatus.Torn, Judge(c => c[0] |= 1));
        Assert.Equal(EntryStatus.Torn, Judge(c => c[EntryLayout.HeaderSize + 4] ^= 0x40));
        Assert.Equal(EntryStatus.Corrupt, Judge(_ => { }, length: 20));
        Assert.Equal(EntryStatus.Corrupt, Judge(_ => { }, length: 48));
        Assert.Equal(EntryStatus.Corrupt, Judge(c => BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(EntryLayout.ValueLengthOffset), 1000)));
        Assert.Equal(EntryStatus.Corrupt, Judge(c => BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(EntryLayout.ValueLengthOffset), uint.MaxValue)));
        Assert.Equal(EntryStatus.Corrupt, Judge(c => BinaryPrimitives.WriteUInt16LittleEndian(c.AsSpan(EntryLayout.KeyLengthOffset), 0)));
        Assert.Equal(EntryStatus.Corrupt, Judge(c => c[EntryLayout.ReservedOffset] = 1));
        Assert.Equal(EntryStatus.Corrupt, Judge(c => c[EntryLayout.FlagsOffset] = 7));
        Assert.Equal(EntryStatus.Deleted, EntryValidator.Validate(new byte[64], "key"u8, 0, out _));
        Assert.Equal(EntryStatus.Deleted, EntryValidator.Validate(Slot(64, 12, "key"u8.ToArray(), [], EntryFlags.Tombstone), "key"u8, 0, out _));
        Assert.Equal(EntryStatus.ForeignKey, Judge(_ => { }, key: "kex"));
        Assert.Equal(EntryStatus.Stale, Judge(_ => { }, min: 12));
        Assert.Equal(EntryStatus.Ok, Judge(_ => { }, min: 10));
    }

    [Fact]
    public void Write_BadArguments_Throw()
    {
        var slot = new byte[64];
        Assert.Throws<ArgumentException>(() => EntryCodec.Write(slot, 3, "k"u8, "v"u8, EntryFlags.Live));
        Assert.Throws<ArgumentException>(() => EntryCodec.Write(slot, 0, "k"u8, "v"u8, EntryFlags.Live));
        Assert.Throws<ArgumentException>(() => EntryCodec.Write(slot, 2, [], "v"u8, EntryFlags.Live));
        Assert.Throws<ArgumentException>(() => EntryCodec.Write(slot, 2, "k"u8, new byte[40], EntryFlags.Live));
        Assert.Throws<ArgumentException>(() => EntryCodec.Write(new byte[70_000], 2, new byte[70_000 - 100], [], EntryFlags.Live));
    }

    private static readonly Gen<(byte[] Key, byte[] Value, int Slack, ulong Version)> Entries =
        Gen.Select(Gen.Byte.Array[1, 64], Gen.Byte.Array[0, 600], Gen.Int[0, 64], Gen.ULong[1, ulong.MaxValue / 4]).Select((k, v, s, ver) => (k, v, s, ver * 2));

    [Fact]
    public void WriteThenValidate_RandomEntries_RoundTrip()
    {
        Entries.Sample(t =>
        {
            byte[] slot = Slot(EntryLayout.EntrySize(t.Key.Length, t.Value.Length) + t.Slack, t.Version, t.Key, t.Value);
            Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(slot, t.Key, t.Version, out ValidatedEntry e));
            Assert.Equal(t.Value, e.ValueOf(slot).ToArray());
            Assert.Equal(t.Version, e.Version);
        }, iter: 2000);
    }

    [Fact]
    public void Validate_AnySingleBitFlipInTheEntry_IsNeverOk()
    {
        Gen.Select(Entries, Gen.Int[0, int.MaxValue]).Sample((t, pick) =>
        {
            int entrySize = EntryLayout.EntrySize(t.Key.Length, t.Value.Length);
            byte[] slot = Slot(entrySize + t.Slack, t.Version, t.Key, t.Value);
            int bit = pick % (entrySize * 8);
            slot[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.NotEqual(EntryStatus.Ok, EntryValidator.Validate(slot, t.Key, 0, out _));
        }, iter: 5000);
    }

    [Fact]
    public void Validate_CopyMixingTwoWrites_IsOkOnlyForAWholeValue()
    {
        Gen.Select(Gen.Byte.Array[1, 32], Gen.Byte.Array[0, 300], Gen.Byte.Array[0, 300], Gen.Int[1, 64], Gen.Int[0, int.MaxValue]).Sample((key, v1, v2, chunk, seed) =>
        {
            int size = EntryLayout.EntrySize(key.Length, Math.Max(v1.Length, v2.Length));
            byte[] older = Slot(size, 100, key, v1);
            byte[] newer = (byte[])older.Clone();
            EntryCodec.Write(newer, 102, key, v2, EntryFlags.Live);

            // A torn memcpy: chunks of either image, in any order.
            var random = new Random(seed);
            var mixed = new byte[size];
            for (int at = 0; at < size; at += chunk)
            {
                Array.Copy(random.Next(2) == 0 ? older : newer, at, mixed, at, Math.Min(chunk, size - at));
            }

            if (EntryValidator.Validate(mixed, key, 0, out ValidatedEntry e) == EntryStatus.Ok)
            {
                byte[] value = e.ValueOf(mixed).ToArray();
                Assert.True(value.AsSpan().SequenceEqual(v1) || value.AsSpan().SequenceEqual(v2));
            }
        }, iter: 5000);
    }

    [Fact]
    public void TryParseOwned_ReadsAPendingEntryAndSkipsTheChecksum_TryParseRejectsBoth()
    {
        byte[] key = "k"u8.ToArray();
        byte[] value = new byte[64];
        int size = EntryLayout.EntrySize(key.Length, value.Length);
        var pending = new byte[size];
        EntryCodec.Write(pending, 8, key, value, EntryFlags.Live, pending: true);

        Assert.True(EntryValidator.TryParseOwned(pending, out ulong version, out bool isPending, out EntryFlags flags, out int keyLength, out int valueLength));
        Assert.Equal((8UL, true, EntryFlags.Live, 1, 64), (version, isPending, flags, keyLength, valueLength));
        Assert.False(EntryValidator.TryParse(pending, out _, out _, out _, out _));

        // A value byte changed after the checksum: the owner's parse does not hash (its slots are whole under its
        // lock); a copier's parse must catch it.
        byte[] published = Slot(size, 10, key, value);
        published[^1] ^= 0xFF;
        Assert.True(EntryValidator.TryParseOwned(published, out version, out isPending, out _, out _, out _));
        Assert.Equal((10UL, false), (version, isPending));
        Assert.False(EntryValidator.TryParse(published, out _, out _, out _, out _));

        // The header's checks stay: a slot size that is not the span's.
        Assert.False(EntryValidator.TryParseOwned(published.AsSpan(0, size - 1), out _, out _, out _, out _, out _));
    }
}
