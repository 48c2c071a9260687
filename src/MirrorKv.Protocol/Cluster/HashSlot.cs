using System.Text;

namespace MirrorKv.Protocol;

/// <summary>
/// The hash slot of a key: one of <see cref="Count"/> parts of the key space, each owned by one pair of a
/// cluster. Computed exactly as Redis Cluster does, so that an operator's tools and intuition carry over:
/// CRC16 (XMODEM/CCITT: polynomial 0x1021, initial value 0, no reflection, no final XOR) of the key's bytes,
/// modulo 16,384; when the key holds a <c>{</c> followed later by a <c>}</c> with at least one byte between
/// them, only the bytes between the first <c>{</c> and the first <c>}</c> after it are hashed (the hash tag),
/// so that <c>{user:42}:cart</c> and <c>{user:42}:profile</c> land on the same pair.
/// </summary>
public static class HashSlot
{
    /// <summary>Slots in a cluster: 16,384, as Redis Cluster (a map of that many fits a few KiB as ranges).</summary>
    public const int Count = 16384;

    private static readonly ushort[] Table = BuildTable();

    /// <summary>The slot of a key given as its bytes (what the wire carries).</summary>
    public static int Of(ReadOnlySpan<byte> key) => Crc16(HashedPart(key)) & (Count - 1);

    /// <summary>The slot of a key given as a string: of its UTF-8 bytes, as the client sends them.</summary>
    public static int Of(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int max = Encoding.UTF8.GetMaxByteCount(key.Length);
        if (max <= 512)
        {
            Span<byte> buffer = stackalloc byte[max];
            return Of(buffer[..Encoding.UTF8.GetBytes(key, buffer)]);
        }

        return Of(Encoding.UTF8.GetBytes(key));
    }

    /// <summary>
    /// The bytes the slot is computed from: the content of the first non-empty <c>{...}</c> hash tag, or the
    /// whole key. A <c>{}</c> (empty tag) or a <c>{</c> with no <c>}</c> after it means the whole key.
    /// </summary>
    public static ReadOnlySpan<byte> HashedPart(ReadOnlySpan<byte> key)
    {
        int open = key.IndexOf((byte)'{');
        if (open < 0)
        {
            return key;
        }

        int close = key[(open + 1)..].IndexOf((byte)'}');
        return close <= 0 ? key : key.Slice(open + 1, close);
    }

    /// <summary>CRC16/XMODEM of <paramref name="data"/> ("123456789" gives 0x31C3).</summary>
    public static ushort Crc16(ReadOnlySpan<byte> data)
    {
        ushort crc = 0;
        foreach (byte b in data)
        {
            crc = (ushort)((crc << 8) ^ Table[((crc >> 8) ^ b) & 0xFF]);
        }

        return crc;
    }

    private static ushort[] BuildTable()
    {
        var table = new ushort[256];
        for (int i = 0; i < table.Length; i++)
        {
            ushort crc = (ushort)(i << 8);
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }

            table[i] = crc;
        }

        return table;
    }
}
