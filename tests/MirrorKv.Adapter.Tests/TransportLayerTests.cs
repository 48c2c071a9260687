using System.Reflection;
using System.Reflection.Emit;
using MirrorKv.Transport;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// The transport's layer edges, read from its compiled code: it references no MirrorKv assembly (so no opcode or
/// status of the wire protocol can be in its contract), and its namespaces depend on each other without a cycle,
/// the contract's on none of the backends'.
/// </summary>
public class TransportLayerTests
{
    private const string Root = "MirrorKv.Transport";

    private static readonly Assembly Transport = typeof(ITransport).Assembly;

    [Fact]
    public void Transport_ReferencesNoMirrorKvAssembly()
    {
        string[] mirrorKv = [.. Transport.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("MirrorKv", StringComparison.Ordinal))];
        Assert.Empty(mirrorKv);
    }

    [Fact]
    public void TransportNamespaces_DependOnEachOtherWithoutACycle_TheContractOnNoBackend()
    {
        Dictionary<string, HashSet<string>> uses = NamespaceDependencies(Transport);
        Assert.True(uses.Count >= 4, $"found only the namespaces {string.Join(", ", uses.Keys)}");

        Assert.Empty(uses.GetValueOrDefault(Root) ?? []);
        Assert.Contains("MirrorKv.Transport.Epoll", uses["MirrorKv.Transport.Tcp"]);

        var done = new HashSet<string>();
        foreach (string start in uses.Keys)
        {
            List<string>? cycle = FindCycle(start, uses, [], done);
            Assert.True(cycle is null, $"namespace cycle: {string.Join(" -> ", cycle ?? [])}");
        }
    }

    // Depth-first: returns the path that closes a cycle, or null.
    private static List<string>? FindCycle(string node, Dictionary<string, HashSet<string>> uses, List<string> path, HashSet<string> done)
    {
        int seen = path.IndexOf(node);
        if (seen >= 0)
        {
            return [.. path.Skip(seen), node];
        }

        if (!done.Add(node))
        {
            return null;
        }

        path.Add(node);
        foreach (string next in uses.GetValueOrDefault(node) ?? [])
        {
            if (FindCycle(next, uses, path, done) is { } cycle)
            {
                return cycle;
            }
        }

        path.RemoveAt(path.Count - 1);
        return null;
    }

    /// <summary>Which namespaces of <paramref name="assembly"/> each of its namespaces uses: in signatures, fields, locals and code.</summary>
    private static Dictionary<string, HashSet<string>> NamespaceDependencies(Assembly assembly)
    {
        var uses = new Dictionary<string, HashSet<string>>();
        foreach (Type type in assembly.GetTypes())
        {
            // Only the assembly's own namespaces (not those of attributes the compiler embeds).
            if (type.Namespace is not { } from || !from.StartsWith(Root, StringComparison.Ordinal))
            {
                continue;
            }

            HashSet<string> targets = uses.TryGetValue(from, out HashSet<string>? known) ? known : uses[from] = [];
            foreach (Type used in TypesUsedBy(type))
            {
                foreach (Type part in Parts(used))
                {
                    if (part.Assembly == assembly && part.Namespace is { } to && to != from && to.StartsWith(Root, StringComparison.Ordinal))
                    {
                        targets.Add(to);
                    }
                }
            }
        }

        return uses;
    }

    private static IEnumerable<Type> TypesUsedBy(Type type)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        if (type.BaseType is { } baseType)
        {
            yield return baseType;
        }

        foreach (Type implemented in type.GetInterfaces())
        {
            yield return implemented;
        }

        foreach (FieldInfo field in type.GetFields(all))
        {
            yield return field.FieldType;
        }

        foreach (MethodBase method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
        {
            if (method is MethodInfo { ReturnType: var returned })
            {
                yield return returned;
            }

            foreach (ParameterInfo parameter in method.GetParameters())
            {
                yield return parameter.ParameterType;
            }

            if (method.GetMethodBody() is not { } body)
            {
                continue;
            }

            foreach (LocalVariableInfo local in body.LocalVariables)
            {
                yield return local.LocalType;
            }

            foreach (MemberInfo member in MembersIn(body.GetILAsByteArray() ?? [], method))
            {
                if ((member as Type ?? member.DeclaringType) is { } owner)
                {
                    yield return owner;
                }

                if (member is MethodInfo { IsGenericMethod: true } generic)
                {
                    foreach (Type argument in generic.GetGenericArguments())
                    {
                        yield return argument;
                    }
                }
            }
        }
    }

    // A type with its element and generic argument types: List<EpollConnection> uses EpollConnection.
    private static IEnumerable<Type> Parts(Type type)
    {
        if (type.HasElementType)
        {
            foreach (Type part in Parts(type.GetElementType()!))
            {
                yield return part;
            }

            yield break;
        }

        yield return type.IsGenericType && !type.IsGenericTypeDefinition ? type.GetGenericTypeDefinition() : type;
        if (type.IsGenericType)
        {
            foreach (Type argument in type.GetGenericArguments())
            {
                foreach (Type part in Parts(argument))
                {
                    yield return part;
                }
            }
        }
    }

    private static readonly OpCode[] OneByteOpCodes = new OpCode[0x100];
    private static readonly OpCode[] TwoByteOpCodes = new OpCode[0x100];

    static TransportLayerTests()
    {
        foreach (FieldInfo field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var code = (OpCode)field.GetValue(null)!;
            (code.Size == 1 ? OneByteOpCodes : TwoByteOpCodes)[(ushort)code.Value & 0xff] = code;
        }
    }

    // The fields, methods and types the IL of a method names (by token).
    private static IEnumerable<MemberInfo> MembersIn(byte[] il, MethodBase method)
    {
        Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
        Type[]? methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int i = 0;
        while (i < il.Length)
        {
            OpCode code = il[i] == 0xfe ? TwoByteOpCodes[il[++i]] : OneByteOpCodes[il[i]];
            i++;
            switch (code.OperandType)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    i += 8;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + (4 * BitConverter.ToInt32(il, i));
                    break;
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok:
                    MemberInfo? member = method.Module.ResolveMember(BitConverter.ToInt32(il, i), typeArguments, methodArguments);
                    i += 4;
                    if (member is not null)
                    {
                        yield return member;
                    }

                    break;
                default:
                    i += 4;
                    break;
            }
        }
    }
}
