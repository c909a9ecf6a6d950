import StrataNN
