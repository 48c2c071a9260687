namespace MirrorKv.Cli.Demo;

/// <summary>What the store demo loads.</summary>
/// <param name="Keys">Number of keys. 200,000: large enough to fill many slabs, done in about a second.</param>
/// <param name="ValueSize">Bytes per value. 100 B: a typical cached object, and the size our figures use.</param>
/// <param name="Seed">Seed for values and for the keys chosen for updates and deletes.</param>
internal sealed record StoreDemoOptions(int Keys, int ValueSize, int Seed)
{
    public static StoreDemoOptions Default { get; } = new(200_000, 100, 42);
}
