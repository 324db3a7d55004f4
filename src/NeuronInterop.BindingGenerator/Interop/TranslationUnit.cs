using System.Runtime.InteropServices;
using System.Text;

namespace NeuronInterop.BindingGenerator.Interop;

/// <summary>A parsed C header (a libclang index and translation unit), disposed together.</summary>
internal sealed unsafe class TranslationUnit : IDisposable
{
    private void* _index;
    private void* _unit;

    private TranslationUnit(void* index, void* unit)
    {
        _index = index;
        _unit = unit;
    }

    public void* Handle => _unit != null ? _unit : throw new ObjectDisposedException(nameof(TranslationUnit));

    public CXCursor Cursor => LibClang.clang_getTranslationUnitCursor(Handle);

    /// <summary>
    /// Parses <paramref name="path"/> with the given command line arguments and a detailed
    /// preprocessing record (so that macro definitions are visible as cursors).
    /// Throws <see cref="GeneratorException"/> when libclang cannot parse it at all.
    /// </summary>
    public static TranslationUnit Parse(string path, IReadOnlyList<string> arguments)
    {
        void* index = LibClang.clang_createIndex(excludeDeclarationsFromPch: 0, displayDiagnostics: 0);
        if (index == null)
            throw new GeneratorException("libclang could not create an index.");

        var allocations = new List<nint>();
        try
        {
            byte* file = Utf8(path, allocations);
            byte** argv = (byte**)NativeMemory.Alloc((nuint)Math.Max(arguments.Count, 1), (nuint)sizeof(byte*));
            allocations.Add((nint)argv);
            for (int i = 0; i < arguments.Count; i++)
                argv[i] = Utf8(arguments[i], allocations);

            void* unit = null;
            int error = LibClang.clang_parseTranslationUnit2(index, file, argv, arguments.Count, null, 0,
                CXTranslationUnitFlags.DetailedPreprocessingRecord | CXTranslationUnitFlags.SkipFunctionBodies, &unit);
            if (error != 0 || unit == null)
            {
                LibClang.clang_disposeIndex(index);
                throw new GeneratorException($"libclang failed to parse {path} (CXErrorCode {error}).");
            }
            return new TranslationUnit(index, unit);
        }
        finally
        {
            foreach (nint allocation in allocations)
                NativeMemory.Free((void*)allocation);
        }
    }

    /// <summary>The diagnostics of the parse, formatted as clang prints them.</summary>
    public IReadOnlyList<(CXDiagnosticSeverity Severity, string Text)> Diagnostics()
    {
        var result = new List<(CXDiagnosticSeverity, string)>();
        uint count = LibClang.clang_getNumDiagnostics(Handle);
        uint options = LibClang.clang_defaultDiagnosticDisplayOptions();
        for (uint i = 0; i < count; i++)
        {
            void* diagnostic = LibClang.clang_getDiagnostic(Handle, i);
            try
            {
                result.Add((LibClang.clang_getDiagnosticSeverity(diagnostic),
                    LibClang.Consume(LibClang.clang_formatDiagnostic(diagnostic, options))));
            }
            finally
            {
                LibClang.clang_disposeDiagnostic(diagnostic);
            }
        }
        return result;
    }

    /// <summary>The spellings and kinds of the tokens that <paramref name="cursor"/> covers.</summary>
    public IReadOnlyList<(CXTokenKind Kind, string Spelling)> Tokens(CXCursor cursor)
    {
        CXToken* tokens = null;
        uint count = 0;
        LibClang.clang_tokenize(Handle, LibClang.clang_getCursorExtent(cursor), &tokens, &count);
        try
        {
            var result = new List<(CXTokenKind, string)>((int)count);
            for (uint i = 0; i < count; i++)
                result.Add((LibClang.clang_getTokenKind(tokens[i]), LibClang.Consume(LibClang.clang_getTokenSpelling(Handle, tokens[i]))));
            return result;
        }
        finally
        {
            if (tokens != null)
                LibClang.clang_disposeTokens(Handle, tokens, count);
        }
    }

    public void Dispose()
    {
        if (_unit != null)
        {
            LibClang.clang_disposeTranslationUnit(_unit);
            _unit = null;
        }
        if (_index != null)
        {
            LibClang.clang_disposeIndex(_index);
            _index = null;
        }
    }

    private static byte* Utf8(string text, List<nint> allocations)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        byte* buffer = (byte*)NativeMemory.Alloc((nuint)length + 1);
        allocations.Add((nint)buffer);
        fixed (char* chars = text)
            Encoding.UTF8.GetBytes(chars, text.Length, buffer, length);
        buffer[length] = 0;
        return buffer;
    }
}
