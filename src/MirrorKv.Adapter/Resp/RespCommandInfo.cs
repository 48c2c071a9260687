namespace MirrorKv.Adapter.Resp;

/// <summary>One command's name and shape, as COMMAND INFO reports it and the dispatcher checks it.</summary>
/// <param name="Kind">Which command.</param>
/// <param name="Name">Lower-case name.</param>
/// <param name="Arity">Arguments with the name: exactly this many when positive, at least -Arity when negative.</param>
/// <param name="Access">Whether it reads or writes keys.</param>
/// <param name="Flags">Redis's command flags, for COMMAND INFO.</param>
/// <param name="FirstKey">Position of the first key (0: none).</param>
/// <param name="LastKey">Position of the last key (-1: the last argument).</param>
/// <param name="Step">Distance between keys.</param>
/// <param name="Group">Redis's command group, for COMMAND DOCS.</param>
/// <param name="Summary">One line for COMMAND DOCS.</param>
internal sealed record RespCommandInfo(RespCommandKind Kind, string Name, int Arity, RespCommandAccess Access, string[] Flags, int FirstKey, int LastKey, int Step, string Group, string Summary)
{
    /// <summary>True when <paramref name="count"/> arguments (the name included) fit the arity.</summary>
    public bool AcceptsArgumentCount(int count) => Arity >= 0 ? count == Arity : count >= -Arity;
}
