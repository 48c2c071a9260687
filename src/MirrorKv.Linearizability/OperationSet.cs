using System.Runtime.InteropServices;

namespace MirrorKv.Linearizability;

/// <summary>
/// The set of operations linearized so far, held as a 128-bit fingerprint (Zobrist hashing: a random key per
/// operation, the set is the XOR of its members' keys), so that adding or removing an operation is one XOR and the
/// checker's memo holds 16 bytes per entry, whatever the history's length.
/// </summary>
/// <remarks>
/// A copy of the set per memo entry made the memo quadratic in the window's length: a window that grew long while
/// its checker was starved (CI, two cores) took the test process past the machine's memory. Two different sets
/// share a fingerprint with a chance of about m² / 2^129 for m memo entries (below 10^-26 at the memo budget), and a
/// collision can only cut a path the search would have tried: it may call a linearizable history not linearizable,
/// never the reverse.
/// </remarks>
internal sealed class OperationSet
{
    private readonly UInt128[] _keys;

    public OperationSet(int count)
    {
        _keys = new UInt128[count];

        // Seeded, so that a history checks the same way in every run (a property test's shrink depends on it).
        new Random(count).NextBytes(MemoryMarshal.AsBytes(_keys.AsSpan()));
    }

    public UInt128 Fingerprint { get; private set; }

    public void Add(int i) => Fingerprint ^= _keys[i];

    public void Remove(int i) => Fingerprint ^= _keys[i];
}
