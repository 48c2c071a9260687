using System.Reflection;
using MirrorKv.Client;
using MirrorKv.Entries;

namespace MirrorKv.Extensions.Caching.Tests;

/// <summary>
/// The client's and the cache package's layer edge, read from their compiled code: they take the entry format
/// (validation, expiry prefix) from <c>MirrorKv.Entries</c> and reach neither the store engine nor the node,
/// directly or through any MirrorKv assembly they reference.
/// </summary>
public class EntryLayerTests
{
    public static TheoryData<string> Assemblies => [typeof(MirrorKvClient).Assembly.GetName().Name!, typeof(MirrorKvCache).Assembly.GetName().Name!];

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void ClientAndCache_ReferenceTheEntryFormat_NotTheStoreEngine(string name)
    {
        Assembly assembly = Assembly.Load(name);
        string[] direct = [.. MirrorKvReferences(assembly)];
        Assert.Contains(typeof(EntryValidator).Assembly.GetName().Name, direct);

        HashSet<string> reachable = Reachable(assembly);
        Assert.DoesNotContain("MirrorKv.Store", reachable);
        Assert.DoesNotContain("MirrorKv.Adapter", reachable);
    }

    // The MirrorKv assemblies that assembly reaches through its references, at any depth.
    private static HashSet<string> Reachable(Assembly assembly)
    {
        var seen = new HashSet<string>();
        var next = new Stack<Assembly>([assembly]);
        while (next.TryPop(out Assembly? current))
        {
            foreach (string referenced in MirrorKvReferences(current))
            {
                if (seen.Add(referenced))
                {
                    next.Push(Assembly.Load(referenced));
                }
            }
        }

        return seen;
    }

    private static IEnumerable<string> MirrorKvReferences(Assembly assembly) =>
        assembly.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("MirrorKv", StringComparison.Ordinal));
}
